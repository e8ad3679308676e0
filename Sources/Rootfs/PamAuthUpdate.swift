/// What `pam-auth-update --package` (libpam-runtime's `postinst`, on a system without earlier
/// PAM configuration) writes, computed from the profiles in `/usr/share/pam-configs/` and the
/// templates in `/usr/share/pam/`: `/etc/pam.d/common-{auth,account,password,session,
/// session-noninteractive}` and its saved state in `/var/lib/pam/` (`seen` and one file per type).
///
/// The rules are pam-auth-update's (libpam-runtime 1.5): profiles sorted by `Priority`, highest
/// first, then by name, descending; those with `Default: yes` enabled; per type, the
/// "Primary" block's modules, then the template's fallback, then the "Additional" block; the
/// first module of a block takes its `TYPE-Initial` lines; `end` in a control field becomes the
/// count of lines still to come in the block; with no primary module a `pam_permit.so` line
/// keeps the stack intact.
public struct PamAuthUpdate: Sendable {
    /// The types, in the order pam-auth-update writes them, and the field prefix each reads.
    static let types: [(file: String, field: String)] = [
        ("auth", "Auth"), ("account", "Account"), ("password", "Password"), ("session", "Session"),
        ("session-noninteractive", "Session-noninteractive"),
    ]

    /// A parsed profile: its fields, continuation lines joined with newlines.
    struct Profile {
        var name: String
        var fields: [String: String]
        var priority: Int { Int(fields["Priority"] ?? "") ?? 0 }
    }

    let profiles: [Profile]

    /// Profiles from file name → contents.
    public init(profiles: [String: [UInt8]]) {
        self.profiles = profiles.compactMap { name, bytes in
            // pam-auth-update skips editor backups and `#…#` files.
            if name.hasSuffix("~") || (name.hasPrefix("#") && name.hasSuffix("#")) { return nil }
            return Profile(name: name, fields: Self.parse(String(decoding: bytes, as: UTF8.self)))
        }
    }

    /// pam-auth-update's `parse_pam_profile`: `Field: value` lines; other lines, trimmed, are
    /// appended to the last field with a newline; leading blank space of a value is dropped.
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        var current: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if let first = line.first, !first.isWhitespace, let colon = line.firstIndex(of: ":"),
               !line[..<colon].contains(where: \.isWhitespace),
               line[line.index(after: colon)...].first.map(\.isWhitespace) ?? true {
                var name = String(line[..<colon])
                if name.hasSuffix("-Final") { name.removeLast("-Final".count) }
                current = name
                fields[name] = String(line[line.index(after: colon)...]).trimmingLeadingBlanks.trimmingTrailingBlanks
                continue
            }
            let trimmed = line.trimmingLeadingBlanks.trimmingTrailingBlanks
            guard let current, !trimmed.isEmpty else { continue }
            let joined = (fields[current] ?? "") + "\n" + trimmed
            fields[current] = joined.trimmingLeadingBlanks
        }
        if fields["Session-Interactive-Only"] == nil {
            fields["Session-noninteractive-Type"] = fields["Session-Type"]
            fields["Session-noninteractive"] = fields["Session"]
            fields["Session-noninteractive-Initial"] = fields["Session-Initial"]
        }
        return fields
    }

    /// Every profile's name, in pam-auth-update's order (what `seen` lists).
    var sorted: [Profile] {
        profiles.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            return Array(b.name.utf8).lexicographicallyPrecedes(Array(a.name.utf8))
        }
    }

    /// The profiles a first configuration enables: `Default: yes`, without one that a
    /// higher-ranked enabled profile lists under `Conflicts`.
    var enabled: [Profile] {
        var chosen: [Profile] = []
        for profile in sorted where profile.fields["Default"] == "yes" {
            let conflicts = chosen.contains { other in
                Self.names(other.fields["Conflicts"]).contains(profile.name) || Self.names(profile.fields["Conflicts"]).contains(other.name)
            }
            if !conflicts { chosen.append(profile) }
        }
        return chosen
    }

    /// The profile names of a `Conflicts` field.
    private static func names(_ field: String?) -> [String] {
        (field ?? "").split(separator: ",").map { String($0).trimmingLeadingBlanks.trimmingTrailingBlanks }
    }

    /// The module lines of `profile` for `field` at position `position` of its block.
    private func lines(_ profile: Profile, _ field: String, position: Int) -> [String] {
        let value = position == 0 ? (profile.fields[field + "-Initial"] ?? profile.fields[field]) : profile.fields[field]
        return (value ?? "").split(separator: "\n").map(String.init)
    }

    /// The modules of one block (`Primary`, `Additional`) for a type's field, each with its lines.
    private func block(_ field: String, _ kind: String) -> [(profile: String, lines: [String])] {
        var position = 0
        var result: [(String, [String])] = []
        for profile in enabled where profile.fields[field + "-Type"] == kind {
            result.append((profile.name, lines(profile, field, position: position)))
            position += 1
        }
        return result
    }

    /// pam-auth-update's `merge_one_line` without local edits: `CONTROL MODULE` then the options
    /// joined by single spaces (a trailing space when there are none); `end` in the control and
    /// module becomes `count`.
    static func merged(_ line: String, count: Int) -> String {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let controlEnd = Self.controlEnd(line) else { return line }
        let control = String(line[..<controlEnd])
        let rest = line[controlEnd...].drop { $0 == " " || $0 == "\t" }
        guard let moduleEnd = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? (rest.isEmpty ? nil : rest.endIndex) else {
            return words.joined(separator: " ")
        }
        let separator = line[controlEnd..<rest.startIndex]
        let module = String(rest[..<moduleEnd])
        let options = rest[moduleEnd...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let modline = (control + separator + module).replacingAll("end", with: String(count))
        return modline + " " + options.joined(separator: " ")
    }

    /// Where the control field (`required` or `[…]`) of a module line ends.
    private static func controlEnd(_ line: String) -> String.Index? {
        if line.hasPrefix("[") { return line.firstIndex(of: "]").map { line.index(after: $0) } }
        return line.firstIndex(where: { $0 == " " || $0 == "\t" })
    }

    /// The `/etc/pam.d/common-TYPE` file made from its template, or nil when the template
    /// lacks pam-auth-update's markers.
    public func commonFile(type: String, template: String) -> String? {
        guard let field = Self.types.first(where: { $0.file == type })?.field else { return nil }
        let prefix = type.replacingAll("-noninteractive", with: "")
        let markers = [
            "# here are the per-package modules (the \"Primary\" block)", "# here's the fallback if no module succeeds",
            "# and here are more per-package modules (the \"Additional\" block)", "# end of pam-auth-update config",
        ]
        var output = ""
        var state = 0
        for line in template.split(separator: "\n", omittingEmptySubsequences: false).dropLast(template.hasSuffix("\n") ? 1 : 0) {
            let line = String(line)
            if state == 1 || state == 3 {
                if line.hasPrefix(markers[state]) {
                    output += line + "\n"
                    state += 1
                }
                continue
            }
            output += line + "\n"
            guard state == 0 || state == 2, line.hasPrefix(markers[state]) else { continue }
            let modules = block(field, state == 0 ? "Primary" : "Additional")
            var count = modules.reduce(0) { $0 + $1.lines.count }
            if state == 2 { count -= 1 }
            if state == 0, count == 0 { output += "\(prefix)\t[default=1]\t\t\tpam_permit.so\n" }
            for (_, lines) in modules {
                for line in lines {
                    output += "\(prefix)\t" + Self.merged(line, count: count) + "\n"
                    count -= 1
                }
            }
            state += 1
        }
        return state == 4 ? output : nil
    }

    /// `/var/lib/pam/TYPE`: the enabled modules of the type, primary ones (or the `null`
    /// placeholder) first, each as `Module: NAME` and its lines.
    public func savedState(type: String) -> String {
        guard let field = Self.types.first(where: { $0.file == type })?.field else { return "" }
        var output = ""
        let primary = block(field, "Primary")
        for (name, lines) in primary where !lines.isEmpty {
            output += "Module: \(name)\n" + lines.joined(separator: "\n") + "\n"
        }
        if primary.isEmpty { output += "Module: null\n[default=1]\t\t\tpam_permit.so\n" }
        for (name, lines) in block(field, "Additional") where !lines.isEmpty {
            output += "Module: \(name)\n" + lines.joined(separator: "\n") + "\n"
        }
        return output
    }

    /// `/var/lib/pam/seen`: every profile's name, one a line, in pam-auth-update's order.
    public var seen: String { sorted.map { $0.name + "\n" }.joined() }
}

extension String {
    var trimmingLeadingBlanks: String { String(drop { $0 == " " || $0 == "\t" || $0 == "\n" }) }
    var trimmingTrailingBlanks: String {
        var text = Substring(self)
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }

    /// Every occurrence of `target` replaced (Foundation-free).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
