import Yams

/// A YAML document as a tree whose every node knows the file and line it came from, so that
/// errors and conflicts can name the spec line, and `extends` can merge two files' trees.
indirect enum YAMLValue: Sendable {
    case scalar(String, SpecLocation)
    case mapping([(key: String, keyLocation: SpecLocation, value: YAMLValue)], SpecLocation)
    case sequence([YAMLValue], SpecLocation)
    case null(SpecLocation)

    var location: SpecLocation {
        switch self {
        case .scalar(_, let l), .mapping(_, let l), .sequence(_, let l), .null(let l): return l
        }
    }

    /// What kind of node this is, for messages.
    var kindName: String {
        switch self {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .null: return "nothing"
        }
    }

    /// Parses YAML text. Refuses syntax errors, duplicate keys, non-scalar keys and anchors.
    static func parse(_ text: String, file: String) throws -> YAMLValue? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw SpecError(file: file, line: nil, message: "not valid YAML: \(message)")
        }
        return try node.map { try convert($0, file: file) }
    }

    private static func convert(_ node: Node, file: String) throws -> YAMLValue {
        let location = SpecLocation(file: file, line: (node.mark?.line ?? 0))
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return .null(location)
            }
            return .scalar(scalar.string, location)
        case .sequence(let sequence):
            return .sequence(try sequence.map { try convert($0, file: file) }, location)
        case .mapping(let mapping):
            var entries: [(key: String, keyLocation: SpecLocation, value: YAMLValue)] = []
            var seen: [String: Int] = [:]
            for (keyNode, valueNode) in mapping {
                let keyLocation = SpecLocation(file: file, line: keyNode.mark?.line ?? location.line)
                guard case .scalar(let key) = keyNode else {
                    throw SpecError(at: keyLocation, "a mapping key must be a plain string")
                }
                if let first = seen[key.string] {
                    throw SpecError(at: keyLocation, "duplicate key '\(key.string)' (first at line \(first))")
                }
                seen[key.string] = keyLocation.line
                entries.append((key.string, keyLocation, try convert(valueNode, file: file)))
            }
            return .mapping(entries, location)
        default:
            throw SpecError(at: location, "YAML aliases and anchors are not supported in specs")
        }
    }

    /// `self` with `override` laid over it: mappings merge key by key (recursively), anything
    /// else is replaced. This is what `extends` does.
    func merged(with override: YAMLValue) -> YAMLValue {
        guard case .mapping(let base, let baseLocation) = self, case .mapping(let top, _) = override else {
            return override
        }
        var result = base
        for entry in top {
            if let index = result.firstIndex(where: { $0.key == entry.key }) {
                result[index] = (entry.key, entry.keyLocation, result[index].value.merged(with: entry.value))
            } else {
                result.append(entry)
            }
        }
        return .mapping(result, baseLocation)
    }
}

/// Reads a YAML mapping field by field, and refuses keys nobody asked for.
struct MappingReader {
    let entries: [(key: String, keyLocation: SpecLocation, value: YAMLValue)]
    var location: SpecLocation
    let path: String
    private(set) var used: Set<String> = []

    init(_ value: YAMLValue, path: String) throws {
        guard case .mapping(let entries, let location) = value else {
            throw SpecError(at: value.location, "\(path.isEmpty ? "the spec" : path): expected a mapping, got \(value.kindName)")
        }
        self.entries = entries
        self.location = location
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func value(_ key: String) -> YAMLValue? {
        used.insert(key)
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        return value
    }

    func line(_ key: String) -> SpecLocation {
        entries.first { $0.key == key }?.keyLocation ?? location
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value else {
            throw SpecError(at: value.location, "\(name(key)): expected a string, got \(value.kindName)")
        }
        return text
    }

    mutating func requiredString(_ key: String, example: String) throws -> String {
        guard let text = try string(key) else {
            throw SpecError(at: location, "\(name(key)) is missing (e.g. \(key): \(example))")
        }
        return text
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw SpecError(at: line(key), "\(name(key)): expected true or false, got '\(text)'")
        }
    }

    mutating func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = try string(key) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw SpecError(at: line(key), "\(name(key)): expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return number
    }

    mutating func strings(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .sequence(let items, _) = value else {
            throw SpecError(at: value.location, "\(name(key)): expected a list, got \(value.kindName)")
        }
        return try items.map { item in
            guard case .scalar(let text, _) = item else {
                throw SpecError(at: item.location, "\(name(key)): expected a list of strings, found \(item.kindName)")
            }
            return text
        }
    }

    /// A list of strings, with each item's location.
    mutating func locatedStrings(_ key: String) throws -> [(String, SpecLocation)] {
        guard let value = value(key) else { return [] }
        guard case .sequence(let items, _) = value else {
            throw SpecError(at: value.location, "\(name(key)): expected a list, got \(value.kindName)")
        }
        return try items.map { item in
            guard case .scalar(let text, let location) = item else {
                throw SpecError(at: item.location, "\(name(key)): expected a list of strings, found \(item.kindName)")
            }
            return (text, location)
        }
    }

    mutating func stringMap(_ key: String) throws -> [String: String]? {
        guard let value = value(key) else { return nil }
        let reader = try MappingReader(value, path: name(key))
        var out: [String: String] = [:]
        for entry in reader.entries {
            switch entry.value {
            case .scalar(let text, _): out[entry.key] = text
            case .null: out[entry.key] = ""
            default:
                throw SpecError(at: entry.value.location, "\(reader.name(entry.key)): expected a string, got \(entry.value.kindName)")
            }
        }
        return out
    }

    mutating func mapping(_ key: String) throws -> MappingReader? {
        guard let value = value(key) else { return nil }
        var reader = try MappingReader(value, path: name(key))
        reader.location = line(key)  // a missing field is reported at the key that opens the mapping
        return reader
    }

    /// Parses a versioned scalar with the type's own grammar, reporting the line.
    mutating func version<V>(_ key: String, _ parse: (String) throws -> V) throws -> V? {
        guard let text = try string(key) else { return nil }
        do {
            return try parse(text)
        } catch {
            throw SpecError(at: line(key), "\(name(key)): \(error)")
        }
    }

    /// Throws for the first key that was never asked for.
    func finish(component: Bool = false) throws {
        for entry in entries where !used.contains(entry.key) {
            let known = used.sorted().joined(separator: ", ")
            let what = component ? "unknown component" : "unknown key"
            throw SpecError(at: entry.keyLocation, "\(what) '\(name(entry.key))' (expected one of: \(known))")
        }
    }
}
