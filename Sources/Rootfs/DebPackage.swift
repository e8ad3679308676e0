/// A Debian package as unpacked into a component tree: what the caller needs to list it in
/// the dpkg status of this layer and of every layer above it.
public struct DebPackage: Codable, Hashable, Sendable {
    /// A configuration file dpkg tracks (`Conffiles:` in the status): its path and the MD5 of
    /// the contents the package shipped.
    public struct Conffile: Codable, Hashable, Sendable {
        /// The absolute path in the image, as the package's `conffiles` lists it (`/etc/foo.conf`).
        public var path: String
        /// The MD5 of the shipped file, lowercase hex (dpkg compares it on upgrade).
        public var md5: String

        /// A conffile entry.
        public init(path: String, md5: String) {
            self.path = path
            self.md5 = md5
        }
    }

    /// `Package:`.
    public var name: String
    /// `Version:`, as written (epoch included).
    public var version: String
    /// `Architecture:` (`amd64`, `all`, …).
    public var architecture: String
    /// `Multi-Arch:` (`same`, `foreign`, `allowed`), if the package has it.
    public var multiArch: String?
    /// The package's `control` paragraph, as the `.deb` has it, without its final line end.
    public var control: String
    /// The package's conffiles, in the order its `conffiles` lists them.
    public var conffiles: [Conffile]

    /// A package record.
    public init(
        name: String, version: String, architecture: String, multiArch: String? = nil, control: String, conffiles: [Conffile] = []
    ) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.multiArch = multiArch
        self.control = control
        self.conffiles = conffiles
    }

    /// The name dpkg gives the package's files in `var/lib/dpkg/info`: `NAME`, or `NAME:ARCH`
    /// for a `Multi-Arch: same` package (several architectures of it can be installed at once).
    public var infoName: String {
        multiArch == "same" ? "\(name):\(architecture)" : name
    }

    /// The order dpkg writes a status paragraph's known fields in (lib/dpkg/parse.c's field
    /// table); other fields (`Homepage`, `Built-Using`, …) follow in their control-file order.
    static let statusFieldOrder = [
        "package", "essential", "protected", "status", "priority", "section", "installed-size", "origin", "maintainer", "bugs",
        "architecture", "multi-arch", "source", "version", "config-version", "replaces", "provides", "depends", "pre-depends",
        "recommends", "suggests", "breaks", "conflicts", "enhances", "conffiles", "filename", "size", "md5sum", "msdos-filename",
        "description", "triggers-pending", "triggers-awaited",
    ]

    /// The package's paragraph in `var/lib/dpkg/status`, as dpkg writes it once the package is
    /// configured: the control fields with `Status: install ok installed` and, if it has
    /// conffiles, a `Conffiles:` field, in dpkg's field order. No final line end.
    public var statusParagraph: String {
        // Fields with their continuation lines, in control-file order.
        var fields: [(name: String, lines: [String])] = []
        for line in control.split(separator: "\n", omittingEmptySubsequences: false) {
            if let name = DebControl.fieldName(line) {
                fields.append((name.lowercased(), [String(line)]))
            } else if !fields.isEmpty {
                fields[fields.count - 1].lines.append(String(line))
            }
        }
        // A stale Status field (a control file should have none) would contradict ours; dpkg
        // writes no field that holds its default (`Essential: no`, `Multi-Arch: no`).
        fields.removeAll { field in
            if field.name == "status" || field.name == "conffiles" { return true }
            guard ["essential", "protected", "multi-arch"].contains(field.name), field.lines.count == 1 else { return false }
            return field.lines[0].split(separator: ":", maxSplits: 1).last.map { String($0).trimmingLeadingBlanks.trimmingTrailingBlanks } == "no"
        }
        fields.append(("status", ["Status: install ok installed"]))
        if !conffiles.isEmpty {
            fields.append(("conffiles", ["Conffiles:"] + conffiles.map { " \($0.path) \($0.md5)" }))
        }
        let rank = Dictionary(uniqueKeysWithValues: Self.statusFieldOrder.enumerated().map { ($1, $0) })
        let ordered = fields.enumerated().sorted { a, b in
            let (ra, rb) = (rank[a.element.name] ?? Self.statusFieldOrder.count, rank[b.element.name] ?? Self.statusFieldOrder.count)
            return ra != rb ? ra < rb : a.offset < b.offset
        }
        return ordered.flatMap(\.element.lines).joined(separator: "\n")
    }
}

/// Reading one deb822 control paragraph (deb-control(5)).
enum DebControl {
    /// The field name a line starts, or nil for a continuation line, a comment or a line
    /// without a colon.
    static func fieldName(_ line: Substring) -> Substring? {
        guard let first = line.first, first != " ", first != "\t", first != "#", let colon = line.firstIndex(of: ":") else {
            return nil
        }
        return line[..<colon]
    }

    /// The simple (one-line) fields of a paragraph, keyed by lowercase name.
    static func fields(_ paragraph: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in paragraph.split(separator: "\n") {
            guard let name = fieldName(line) else { continue }
            fields[name.lowercased()] = String(line[line.index(after: name.endIndex)...]).debTrimmed
        }
        return fields
    }

    /// The `control` file of a package, checked and normalised to one paragraph without
    /// trailing blank lines or carriage returns.
    static func paragraph(_ bytes: [UInt8], deb: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw RootfsError.invalidDeb(deb: deb, reason: "the control file is not valid UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        while let first = lines.first, first.debTrimmed.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.debTrimmed.isEmpty { lines.removeLast() }
        if lines.contains(where: { $0.debTrimmed.isEmpty }) {
            throw RootfsError.invalidDeb(deb: deb, reason: "the control file holds more than one paragraph")
        }
        return lines.joined(separator: "\n")
    }
}
