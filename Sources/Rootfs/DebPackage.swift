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

    /// The package's paragraph in `var/lib/dpkg/status`: the control paragraph with
    /// `Status: install ok installed` after `Package:` and, if it has conffiles, a `Conffiles:`
    /// field, as dpkg writes them once a package is configured. No final line end.
    public var statusParagraph: String {
        var lines: [String] = []
        var inserted = false
        for line in control.split(separator: "\n", omittingEmptySubsequences: false) {
            // A stale Status field (a control file should have none) would contradict ours.
            if DebControl.fieldName(line)?.lowercased() == "status" { continue }
            lines.append(String(line))
            if !inserted, DebControl.fieldName(line)?.lowercased() == "package" {
                lines.append("Status: install ok installed")
                inserted = true
            }
        }
        if !inserted { lines.insert("Status: install ok installed", at: 0) }
        if !conffiles.isEmpty {
            lines.append("Conffiles:")
            lines += conffiles.map { " \($0.path) \($0.md5)" }
        }
        return lines.joined(separator: "\n")
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
