import Foundation

/// The spec `imagegen new NAME --from OLD` writes: OLD's own file, comments and all, renamed,
/// following another torch release, with the CUDA, cuDNN and NCCL that the catalog gives that
/// release's default build, and OLD's Python when the release has wheels for it (else the
/// newest Python it has). Everything else is kept; the old versions and OLD's name are also
/// replaced in comments, the description, labels and tags, never in pip or Debian requirements.
///
/// Making one writes nothing: the text is checked as `Images/NAME.yaml` against the catalog
/// first, and any contradiction is thrown as a ``ConflictError``.
public struct NewSpec: Sendable {
    /// The new spec's name.
    public var name: String
    /// The spec it was made from.
    public var old: String
    /// The text to write to `Images/NAME.yaml`.
    public var text: String
    /// The new spec, loaded from `text`.
    public var spec: ImageSpec
    /// What changed from OLD, one sentence each (`CUDA 12.6 → 12.8`).
    public var changes: [String]

    /// The torch series a spec name stands for: `2.15` for `v2.15` or `v2.15-devel`; nil for a
    /// name of another shape.
    public static func torchSeries(inName name: String) -> String? {
        guard let match = name.wholeMatch(of: /v(\d+)\.(\d+)(-.*)?/) else { return nil }
        return "\(match.1).\(match.2)"
    }

    /// Derives spec `name` from spec `old` in `loader`'s directory for torch `torch` (a series,
    /// `2.15`, or an exact release, `2.15.0`; nil: the series in `name`, ``torchSeries(inName:)``).
    public init(name: String, from old: String, torch: String?, loader: SpecLoader, catalog: Catalog) throws {
        try loader.checkName(name)
        let file = loader.displayPath(of: name)
        guard name != old else { throw SpecError(file: file, line: nil, message: "a new spec cannot be made from itself") }
        guard let torchText = torch ?? Self.torchSeries(inName: name) else {
            throw SpecError(
                file: file, line: nil,
                message: "'\(name)' names no torch series; pass --torch SERIES (2.15) or --torch VERSION (2.15.0), or use a name like v2.15")
        }
        let version: PEP440Version
        do {
            version = try PEP440Version(parsing: torchText)
        } catch {
            throw SpecError(file: file, line: nil, message: "torch '\(torchText)': \(error)")
        }
        let oldSpec = try loader.load(old)
        guard let oldTorch = oldSpec.torch else {
            throw SpecError(file: loader.displayPath(of: old), line: nil, message: "\(old) has no torch component, so it has no torch series to change")
        }
        let wanted = TorchComponent(version: version, companions: oldTorch.companions)
        let given = torch == nil ? "from the name \(name)" : "--torch"
        guard let release = catalog.torch(for: wanted) else {
            throw ConflictError(image: name, conflicts: [catalog.unknownTorch(wanted, at: given)])
        }
        guard let build = release.defaultBuild else {
            throw ConflictError(image: name, conflicts: ["the catalog lists no default build for torch \(release.version) (\(release.source))"])
        }

        // What the new spec says, by the dotted key SpecLoader records each at.
        var values: [(key: String, old: String, new: String)] = [("torch.version", "\(oldTorch.version)", "\(version)")]
        var changes = ["torch \(oldTorch.version) → \(version)" + (wanted.series != nil ? " (now \(release.version))" : "")]
        func take(_ key: String, _ what: String, old: String?, new: String) {
            guard let old else { return }
            values.append((key, old, new))
            changes.append(old == new ? "\(what) \(new) kept" : "\(what) \(old) → \(new)")
        }
        take("cuda.version", "CUDA", old: oldSpec.cuda.map { "\($0.version)" }, new: "\(build.cuda)")
        take("cudnn.version", "cuDNN", old: oldSpec.cudnn.map { "\($0.version)" }, new: "\(build.cudnn)")
        take("nccl.version", "NCCL", old: oldSpec.nccl.map { "\($0.version)" }, new: "\(build.nccl)")
        if oldSpec.cuda != nil {
            changes.append("CUDA, cuDNN and NCCL as the catalog gives torch \(release.version)'s default build (\(build.source))")
        }
        if let python = oldSpec.python?.version {
            if release.python.contains(where: { $0.majorMinor == python.majorMinor }) {
                values.append(("python.version", "\(python)", "\(python)"))
                changes.append("Python \(python) kept: torch \(release.version) has \(python.cpythonTag) wheels")
            } else if let newest = release.python.max() {
                values.append(("python.version", "\(python)", "\(newest.majorMinor)"))
                changes.append(
                    "Python \(python) → \(newest.majorMinor): torch \(release.version) has no \(python.cpythonTag) wheels; "
                        + "\(newest.majorMinor) is the newest Python it has")
            }
        }

        let oldFile = loader.displayPath(of: old)
        guard let data = FileManager.default.contents(atPath: loader.path(of: old)) else {
            throw SpecError(file: oldFile, line: nil, message: "cannot read the file")
        }
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        var untouchable = Set<Int>()  // indexes of lines that only the exact edits below may change
        for (key, location) in oldSpec.locations where location.file == oldFile
            && ["packages.", "base.packages.", "cuda.pins."].contains(where: key.hasPrefix) {
            untouchable.insert(location.line - 1)
        }
        // The versions as prose, tags and names write them too: 2.7.0, 2.7, 12.6, 2.26, v2.7.
        let oldSeries = TorchSeries(of: catalog.torch(for: oldTorch)?.version ?? oldTorch.version)
        let seriesPair = ("\(oldSeries)", "\(TorchSeries(of: release.version))")
        let ncclPair = oldSpec.nccl.map { ("\($0.version.major).\($0.version.minor)", "\(build.nccl.major).\(build.nccl.minor)") }
        // An old spec that follows a series names its release in prose and tags (2.7.1).
        let oldRelease = catalog.torch(for: oldTorch).map { "\($0.version)" }
        let releasePair = oldRelease.flatMap { $0 == "\(oldTorch.version)" ? nil : ($0, "\(release.version)") }
        let pairs = values.map { ($0.old, $0.new) } + (releasePair.map { [$0] } ?? []) + [seriesPair] + (ncclPair.map { [$0] } ?? [])
            + [(old, name)]

        // A spec that extends another (v2.7-devel extends v2.7) extends the parent's successor
        // (v2.8), which must exist: the versions OLD inherits come from it.
        let parent = oldSpec.extends.map { Self.replacingVersions(in: $0, [seriesPair, (old, name)]) }
        if let parent, parent != oldSpec.extends, !FileManager.default.fileExists(atPath: loader.path(of: parent)) {
            throw SpecError(
                file: oldFile, line: nil,
                message: "\(old) extends \(oldSpec.extends!), so \(name) extends \(parent), which does not exist; make it first "
                    + "(imagegen new \(parent) --from \(oldSpec.extends!)), then run this again")
        }
        for value in values where value.old != value.new {
            guard let location = oldSpec.locations[value.key], location.file == oldFile else {
                if parent != oldSpec.extends { continue }  // the new parent says it
                let from = oldSpec.locations[value.key].map { " (\($0))" } ?? ""
                throw SpecError(
                    file: oldFile, line: nil,
                    message: "\(old) takes \(value.key) from \(oldSpec.extends ?? "the spec it extends")\(from), whose name does not "
                        + "follow the torch series; write \(name).yaml by hand")
            }
            guard lines.indices.contains(location.line - 1), let edited = Self.replacingVersionValue(in: lines[location.line - 1], with: value.new) else {
                throw SpecError(file: oldFile, line: location.line, message: "\(value.key): cannot find the value to replace on this line")
            }
            lines[location.line - 1] = edited
            untouchable.insert(location.line - 1)
        }
        for index in lines.indices where !untouchable.contains(index) {
            if lines[index].hasPrefix("name:") {
                lines[index] = "name: \(name)"
            } else if lines[index].hasPrefix("extends:"), let parent {
                lines[index] = "extends: \(parent)"
            } else {
                lines[index] = Self.replacingVersions(in: lines[index], pairs)
            }
        }
        let header = "# Made from \(old).yaml by `imagegen new`: torch \(version)"
            + (wanted.series != nil ? " (\(release.version) when it was made)." : ".")
        let text = ([header] + lines).joined(separator: "\n")

        let spec = try loader.load(name, text: text)
        let resolved = try ImageResolver(catalog: catalog).resolve(spec)
        // What a new parent gives must be what the catalog gives this release.
        let got: [String: String?] = [
            "torch.version": resolved.torch.map { "\($0.version)" }, "cuda.version": spec.cuda.map { "\($0.version)" },
            "cudnn.version": spec.cudnn.map { "\($0.version)" }, "nccl.version": spec.nccl.map { "\($0.version)" },
            "python.version": spec.python.map { "\($0.version)" },
        ]
        for value in values {
            let expected = value.key == "torch.version" ? "\(release.version)" : value.new
            if let actual = got[value.key] ?? nil, actual != expected {
                throw ConflictError(
                    image: name,
                    conflicts: ["\(value.key) would be \(actual) (\(spec.whereIs(value.key))), but `new` takes \(expected) from the catalog for torch \(release.version)"])
            }
        }
        self.name = name
        self.old = old
        self.text = text
        self.spec = spec
        self.changes = changes
    }

    /// `line` with the scalar after `version:` (block or flow style) replaced by `value`, quoted
    /// as the old one was, or quoted when it would read as a number; nil when the line has none.
    static func replacingVersionValue(in line: String, with value: String) -> String? {
        guard let match = line.firstMatch(of: /(version\s*:\s*)("[^"]*"|'[^']*'|[^\s,}#]+)/) else { return nil }
        let old = match.2
        let quote = old.first == "\"" || old.first == "'" ? String(old.first!) : value.filter { $0 == "." }.count <= 1 ? "\"" : ""
        return line.replacingCharacters(in: match.2.startIndex..<match.2.endIndex, with: quote + value + quote)
    }

    /// `line` with each old text of `pairs` that stands alone (not part of a longer version:
    /// `12.6` is not replaced in `12.6.77` or `112.6`) replaced by its new text, in one pass.
    static func replacingVersions(in line: String, _ pairs: [(String, String)]) -> String {
        var seen = Set<String>()
        let pairs = pairs.filter { !$0.0.isEmpty && $0.0 != $0.1 && seen.insert($0.0).inserted }.sorted { $0.0.count > $1.0.count }
        guard !pairs.isEmpty else { return line }
        let characters = Array(line)
        func isDigit(_ index: Int) -> Bool { characters.indices.contains(index) && characters[index].isNumber }
        func isDot(_ index: Int) -> Bool { characters.indices.contains(index) && characters[index] == "." }
        var out = ""
        var index = 0
        scan: while index < characters.count {
            for (old, new) in pairs {
                let end = index + old.count
                guard end <= characters.count, String(characters[index..<end]) == old else { continue }
                let before = isDigit(index - 1) || (isDot(index - 1) && isDigit(index - 2))
                let after = isDigit(end) || (isDot(end) && isDigit(end + 1))
                if !before && !after {
                    out += new
                    index = end
                    continue scan
                }
            }
            out.append(characters[index])
            index += 1
        }
        return out
    }
}
