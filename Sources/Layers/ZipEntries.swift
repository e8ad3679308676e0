import OCI

/// A zip file (a wheel, say) read as layer entries straight from its central directory,
/// without unpacking it: deflated members become `.deflated` content (so a gzip layer can
/// carry their streams as they are), stored members byte ranges of the zip.
///
/// Kinds as unzip and pip read them (``ZipDirectory/kind(unixMode:name:)``): a member whose mode
/// has no file-type bits is a regular file, or a directory when its name ends in `/`. Modes: a
/// member made on Unix keeps the permission bits of its external attributes; any other member
/// gets 0644 (0755 for a directory). Directories the zip leaves out are added with 0755. Owners
/// are root, times `mtime`.
public enum ZipEntries {
    /// Does the file at `path` start like a zip (a local file header, or an empty zip's end record)?
    public static func isZip(_ path: String) -> Bool {
        guard let reader = try? FileReader(path: path) else { return false }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = (try? magic.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }) ?? 0
        return n == 4 && (magic == [0x50, 0x4B, 0x03, 0x04] || magic == [0x50, 0x4B, 0x05, 0x06])
    }

    /// The entries of the zip at `path`.
    public static func entries(zip path: String, mtime: Int64) throws -> [LayerEntry] {
        let zip = try ZipDirectory(path: path)
        let reader: FileReader
        do { reader = try FileReader(path: path) } catch { throw LayerError.io(path: path, reason: "\(error)") }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var entries: [LayerEntry] = []
        var directories: Set<String> = []
        var parents: Set<String> = []
        for member in zip.members {
            func fail(_ reason: String) -> LayerError { .invalidEntry(path: "\(path): \(member.name)", reason: reason) }
            guard !member.name.hasPrefix("/") else { throw fail("absolute paths are not allowed in a layer") }
            guard member.flags & 1 == 0 else { throw fail("is encrypted") }
            let relative = try normalisedPath(member.name)
            var header = TarHeader(path: relative, kind: .regular, mode: 0o644, mtime: mtime)
            var content = LayerEntry.Content.none
            switch member.kind {
            case .directory:
                header.kind = .directory
                header.mode = member.permissions ?? 0o755
                directories.insert(relative)
            case .symlink:
                header.kind = .symlink
                header.mode = 0o777
                let target = try smallContent(of: member, zip: zip, reader: reader, origin: "\(name): \(member.name)")
                header.linkTarget = String(decoding: target, as: UTF8.self)
            case .file:
                header.mode = member.permissions ?? 0o644
                header.size = member.size
                switch member.method {
                case _ where member.size == 0: content = .none
                case 0: content = .fileRange(path: path, offset: try zip.dataOffset(of: member, reader: reader))
                case 8:
                    guard let source = try zip.deflatedSource(of: member, reader: reader, origin: "\(name): \(member.name)") else {
                        throw fail("is encrypted")
                    }
                    content = .deflated(source)
                default: throw fail("compression method \(member.method) (expected 0, stored, or 8, deflate)")
                }
            case .other(let type):
                throw fail(
                    "file type \(String(type, radix: 8)) in its mode \(String(member.unixMode ?? 0, radix: 8)) (expected a regular file, "
                        + "100000 or no type bits; a directory, 040000 or a name ending in '/'; or a symlink, 120000)")
            }
            var parent = relative
            while let slash = parent.lastIndex(of: "/") {
                parent = String(parent[..<slash])
                parents.insert(parent)
            }
            entries.append(LayerEntry(header: header, content: content))
        }
        for directory in parents.subtracting(directories) {
            entries.append(LayerEntry(header: TarHeader(path: directory, kind: .directory, mode: 0o755, mtime: mtime)))
        }
        return entries
    }

    /// A small member's bytes (a symlink's target).
    private static func smallContent(of member: ZipDirectory.Member, zip: ZipDirectory, reader: FileReader, origin: String) throws -> [UInt8] {
        guard member.size <= 4096 else { throw LayerError.invalidEntry(path: origin, reason: "a symlink target of \(member.size) bytes") }
        var bytes: [UInt8] = []
        switch member.method {
        case 0:
            let offset = try zip.dataOffset(of: member, reader: reader)
            try reader.stream(from: offset, length: member.size) { bytes += $0 }
        case 8:
            guard let source = try zip.deflatedSource(of: member, reader: reader, origin: origin) else {
                throw LayerError.invalidEntry(path: origin, reason: "is encrypted")
            }
            try source.inflate(size: member.size) { bytes += $0 }
        default:
            throw LayerError.invalidEntry(path: origin, reason: "compression method \(member.method) (expected 0 or 8)")
        }
        return bytes
    }
}
