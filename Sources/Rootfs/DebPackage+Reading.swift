import SystemSupport

extension DebPackage {
    /// The record of the package in the `.deb` at `path`, read without unpacking it: the same
    /// value ``DebUnpacker/unpack(_:)`` returns for it. For listing the packages of a lower
    /// layer in a higher layer's status when the lower layer's tree was not rebuilt (a cached
    /// layer). The data archive is read (not written) only when the package has conffiles,
    /// for their MD5s.
    public init(readingControlOf path: String) throws {
        let archive = try DebArchive(path: path)
        let control = try DebControlMembers(archive)
        var hashes: [String: String] = [:]
        let wanted = Set(control.conffilePaths)
        if !wanted.isEmpty {
            let stream = try archive.open(archive.data)
            while let header = try stream.next() {
                let conffile = "/" + TreePath.components(of: header.name).joined(separator: "/")
                // As the unpacker does: only a regular file's bytes are hashed.
                guard header.kind == .regular, wanted.contains(conffile) else { continue }
                var md5 = DebMD5()
                try stream.readBlocks { block, _ in md5.update(block) }
                hashes[conffile] = md5.finalize()
                // Conffiles live in /etc, near the start: the rest need not be decompressed.
                if hashes.count == wanted.count { break }
            }
        }
        self = control.package(conffileHashes: hashes)
    }
}

/// The files of a package's `control.tar` that the dpkg database keeps: `control`, `md5sums`
/// and `conffiles`.
struct DebControlMembers {
    /// The package's record, conffiles not yet filled in.
    var package: DebPackage
    /// `md5sums`, as shipped.
    var md5sums: [UInt8]?
    /// `conffiles`, as shipped.
    var conffiles: [UInt8]?
    /// The other control files dpkg keeps in its `info` database (maintainer scripts, `shlibs`,
    /// `symbols`, `triggers`, `templates`, `config`), by name, with whether each is executable.
    var otherFiles: [(name: String, bytes: [UInt8], executable: Bool)] = []

    /// The control files dpkg copies into `info/PACKAGE.NAME` besides `md5sums` and `conffiles`.
    static let keptFiles: Set<String> = ["preinst", "postinst", "prerm", "postrm", "config", "shlibs", "symbols", "triggers", "templates"]
    /// The conffiles dpkg tracks, in the order `conffiles` lists them (`remove-on-upgrade`
    /// ones are not shipped, so not tracked).
    var conffilePaths: [String]

    /// Reads them from the package's control archive.
    init(_ archive: DebArchive) throws {
        let stream = try archive.open(archive.control)
        var files: [String: [UInt8]] = [:]
        var kept: [(name: String, bytes: [UInt8], executable: Bool)] = []
        while let header = try stream.next() {
            let name = TreePath.components(of: header.name).joined(separator: "/")
            guard header.kind == .regular, ["control", "md5sums", "conffiles"].contains(name) || Self.keptFiles.contains(name) else { continue }
            files[name] = try stream.readAll()
            if Self.keptFiles.contains(name) { kept.append((name, files[name]!, header.mode & 0o111 != 0)) }
        }
        guard let bytes = files["control"] else {
            throw RootfsError.invalidDeb(deb: archive.path, reason: "control.tar holds no 'control' file")
        }
        let paragraph = try DebControl.paragraph(bytes, deb: archive.path)
        let fields = DebControl.fields(paragraph)
        func required(_ name: String) throws -> String {
            guard let value = fields[name.lowercased()], !value.isEmpty else {
                throw RootfsError.invalidDeb(deb: archive.path, reason: "the control file has no '\(name)' field")
            }
            return value
        }
        package = DebPackage(
            name: try required("Package"), version: try required("Version"), architecture: try required("Architecture"),
            multiArch: fields["multi-arch"], control: paragraph)
        md5sums = files["md5sums"]
        conffiles = files["conffiles"]
        otherFiles = kept
        conffilePaths = []
        for line in String(decoding: files["conffiles"] ?? [], as: UTF8.self).split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let path = words.last, path.hasPrefix("/") else { continue }
            if words.dropLast().contains("remove-on-upgrade") { continue }
            conffilePaths.append(path)
        }
    }

    /// The package's record with its conffiles: each one's MD5 as hashed from the data archive,
    /// else as `md5sums` lists it, else dpkg's `newconffile` placeholder.
    func package(conffileHashes hashes: [String: String]) -> DebPackage {
        var sums: [String: String] = [:]
        // `HASH  path/without/leading/slash` per line.
        for line in String(decoding: md5sums ?? [], as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            sums[String(line[space...].drop { $0 == " " || $0 == "*" })] = String(line[..<space])
        }
        var package = package
        package.conffiles = conffilePaths.map { conffile in
            DebPackage.Conffile(path: conffile, md5: hashes[conffile] ?? sums[String(conffile.dropFirst())] ?? "newconffile")
        }
        return package
    }
}
