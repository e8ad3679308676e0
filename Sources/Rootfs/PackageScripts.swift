import SystemSupport

/// What the maintainer-script emulation needs to know of one package, read from its `.deb`
/// without unpacking it: its name and architecture, whether dpkg must keep it (`Essential`,
/// `Priority: required`), its `postinst` as text, and the files its `md5sums` lists (the
/// regular files it installs, as absolute image paths).
public struct PackageScripts: Sendable {
    /// The package name.
    public var name: String
    /// Its architecture (`amd64`, `all`).
    public var architecture: String
    /// `Essential: yes` or `Priority: required`: part of every Debian system.
    public var isBaseSystem: Bool
    /// The `postinst`, when it has one.
    public var postinst: MaintainerScript?
    /// The `triggers` control file's lines (`interest-noawait /usr/share/…`).
    public var triggers: [String]
    /// Absolute paths of the regular files it ships.
    public var files: Set<String>
    /// The `.deb` it was read from.
    public var deb: String

    /// A package described directly (tests, callers that already know it).
    public init(
        name: String, architecture: String, isBaseSystem: Bool, postinst: MaintainerScript?, triggers: [String] = [], files: Set<String>,
        deb: String
    ) {
        self.name = name
        self.architecture = architecture
        self.isBaseSystem = isBaseSystem
        self.postinst = postinst
        self.triggers = triggers
        self.files = files
        self.deb = deb
    }

    /// Reads the control archive of the `.deb` at `path`.
    public init(readingControlOf path: String) throws {
        let archive = try DebArchive(path: path)
        let stream = try archive.open(archive.control)
        var members: [String: [UInt8]] = [:]
        while let header = try stream.next() {
            let name = TreePath.components(of: header.name).joined(separator: "/")
            guard header.kind == .regular, ["control", "md5sums", "postinst", "triggers"].contains(name) else { continue }
            members[name] = try stream.readAll()
        }
        guard let control = members["control"] else {
            throw RootfsError.invalidDeb(deb: path, reason: "control.tar holds no 'control' file")
        }
        let fields = DebControl.fields(try DebControl.paragraph(control, deb: path))
        guard let name = fields["package"], let architecture = fields["architecture"] else {
            throw RootfsError.invalidDeb(deb: path, reason: "the control file has no 'Package' or 'Architecture' field")
        }
        self.name = name
        self.architecture = architecture
        isBaseSystem = fields["essential"] == "yes" || fields["priority"] == "required"
        postinst = members["postinst"].map { MaintainerScript(String(decoding: $0, as: UTF8.self)) }
        triggers = String(decoding: members["triggers"] ?? [], as: UTF8.self).split(separator: "\n")
            .map { String($0).trimmingLeadingBlanks.trimmingTrailingBlanks }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        var files: Set<String> = []
        // `HASH  path/without/leading/slash` per line.
        for line in String(decoding: members["md5sums"] ?? [], as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let file = line[space...].drop { $0 == " " }
            if !file.isEmpty { files.insert("/" + file) }
        }
        self.files = files
        deb = path
    }

    /// The contents of this package's regular files whose image path starts with one of
    /// `prefixes` (`/usr/share/pam-configs/`), read from its data archive. Only used for lower
    /// layers' packages, whose trees are not at hand, and only when the layer being made needs
    /// them (the data archive is decompressed for it).
    public func files(under prefixes: [String]) throws -> [String: [UInt8]] {
        guard files.contains(where: { file in prefixes.contains { file.hasPrefix($0) } }) else { return [:] }
        let archive = try DebArchive(path: deb)
        let stream = try archive.open(archive.data)
        var found: [String: [UInt8]] = [:]
        while let header = try stream.next() {
            let path = "/" + TreePath.components(of: header.name).joined(separator: "/")
            guard header.kind == .regular, prefixes.contains(where: { path.hasPrefix($0) }) else { continue }
            found[path] = try stream.readAll(limit: 1 << 20)
        }
        return found
    }
}
