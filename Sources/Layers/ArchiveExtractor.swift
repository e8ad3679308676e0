import OCI
import SystemSupport

/// Unpacks an archive file (tar, optionally gzip/xz/zstd/bzip2-compressed; zip; ar, as in a
/// `.deb`) into a directory: libarchive reads it (``ArchiveReader``; a gzip file inflated by
/// ``GunzipBlocks``), ``DiskWriter`` writes it
/// (modes kept, setuid included; owners are whoever runs imagegen), refusing entries that would
/// land outside it (absolute paths are taken as relative, `..` is refused, and nothing is
/// written through a symlink an earlier entry planted).
public final class ArchiveExtractor {
    private let reader: ArchiveReader
    /// A gzip file's inflater, read to its end after the archive's last entry.
    private let gunzip: GunzipBlocks?
    /// The archive being read.
    public let path: String

    /// Opens `path` for extraction. A gzip file is inflated by imagegen (``GunzipBlocks``: ISA-L
    /// when it loads), anything else by libarchive.
    public init(path: String) throws {
        self.path = path
        gunzip = GunzipBlocks.isGzip(path) ? try GunzipBlocks(compressed: FileRangeBlocks(path: path)) : nil
        let source: ArchiveReader.Source = gunzip.map { .blocks($0) } ?? .file(path)
        do {
            // The names are the user's data: one that is not UTF-8 is written with U+FFFD.
            reader = try ArchiveReader(source, format: .any, invalidNames: .repair, name: path)
        } catch {
            throw LayerError.archive(path: path, reason: error.message)
        }
    }

    /// Extracts every entry below `directory` (which must exist). Returns the entry count.
    @discardableResult
    public func extract(into directory: String) throws -> Int {
        let writer = DiskWriter(root: directory, owners: false)
        var count = 0
        do {
            while let entry = try reader.next() {
                // "./" names the root itself: the target directory already stands for it.
                if TreePath.components(of: entry.name).isEmpty { continue }
                try write(entry, with: writer)
                count += 1
            }
        } catch let error as ArchiveReaderError {
            throw LayerError.archive(path: path, reason: error.message)
        }
        // libarchive stops at the archive's end: the rest of the stream (a tar's padding, the
        // last gzip trailer) is read here, so that a cut or damaged end is found.
        do {
            while let gunzip, try !gunzip.next().isEmpty {}
        } catch {
            throw LayerError.archive(path: path, reason: "\(error)")
        }
        try writer.finish()
        return count
    }

    /// Writes one entry; a problem with it becomes an error naming the archive.
    private func write(_ entry: ArchiveReader.Entry, with writer: DiskWriter) throws {
        let mode = entry.mode
        do {
            let relative = try normalisedPath(entry.name)
            switch entry.kind {
            case .hardlink:
                try writer.hardlink(relative, to: try normalisedPath(entry.linkTarget))
            case .directory:
                try writer.directory(relative, mode: mode)
            case .regular:
                try writer.file(relative, mode: mode, size: entry.size) { write in
                    try reader.readBlocks(write)
                }
            case .symlink:
                try writer.symlink(relative, target: entry.linkTarget)
            case .fifo:
                try writer.special(relative, kind: .fifo, mode: mode)
            case .characterDevice, .blockDevice:
                let kind: DiskWriter.SpecialKind = entry.kind == .characterDevice ? .characterDevice : .blockDevice
                try writer.special(relative, kind: kind, mode: mode, device: entry.device)
            case .socket, .other:
                throw LayerError.invalidEntry(path: entry.name, reason: "unsupported entry type (mode \(String(mode, radix: 8)))")
            }
        } catch let error as LayerError {
            // libarchive's own errors already name the archive.
            if case .archive = error { throw error }
            throw LayerError.archive(path: path, reason: "\(error)")
        }
    }
}
