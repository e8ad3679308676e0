internal import CArchive
import OCI

/// Unpacks an archive file (tar, optionally gzip/xz/zstd/bzip2-compressed; zip; ar, as in a
/// `.deb`) into a directory: libarchive reads it, ``DiskWriter`` writes it (modes kept,
/// setuid included; owners are whoever runs imagegen), refusing entries that would land
/// outside it (absolute paths are taken as relative, `..` is refused, and nothing is written
/// through a symlink an earlier entry planted).
public final class ArchiveExtractor {
    private let reader: OpaquePointer
    /// The archive being read.
    public let path: String

    /// Opens `path` for extraction.
    public init(path: String) throws {
        guard let reader = archive_read_new() else {
            throw LayerError.archive(path: path, reason: "libarchive: out of memory")
        }
        self.reader = reader
        self.path = path
        archive_read_support_filter_all(reader)
        archive_read_support_format_all(reader)
        try wrap(archive_read_open_filename(reader, path, 1 << 16), reader)
    }

    deinit {
        archive_read_free(reader)
    }

    /// Turns a libarchive return code into an error that carries libarchive's message.
    private func wrap(_ code: Int32, _ handle: OpaquePointer) throws {
        guard code < ARCHIVE_WARN else { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(code)"
        throw LayerError.archive(path: path, reason: message)
    }

    /// Extracts every entry below `directory` (which must exist). Returns the entry count.
    @discardableResult
    public func extract(into directory: String) throws -> Int {
        let writer = DiskWriter(root: directory, owners: false)
        var count = 0
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            try wrap(status, reader)
            guard let entry, let name = archive_entry_pathname(entry).map({ String(cString: $0) }) else { continue }
            // "./" names the root itself: the target directory already stands for it.
            if name.split(separator: "/").allSatisfy({ $0 == "." }) { continue }
            let mode = UInt32(archive_entry_mode(entry))
            do {
                let relative = try normalisedPath(name)
                if let link = archive_entry_hardlink(entry).map({ String(cString: $0) }) {
                    try writer.hardlink(relative, to: try normalisedPath(link))
                } else {
                    // libarchive's AE_IF* values (casts Swift cannot import); they are the POSIX ones.
                    switch mode & 0o170000 {
                    case 0o040000:
                        try writer.directory(relative, mode: mode)
                    case 0o100000:
                        let size = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil
                        try writer.file(relative, mode: mode, size: size) { write in
                            var buffer: UnsafeRawPointer?
                            var count = 0
                            var offset: Int64 = 0
                            while true {
                                let read = archive_read_data_block(reader, &buffer, &count, &offset)
                                if read == ARCHIVE_EOF { break }
                                try wrap(read, reader)
                                try write(UnsafeRawBufferPointer(start: buffer, count: count), offset)
                            }
                        }
                    case 0o120000:
                        let target = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                        try writer.symlink(relative, target: target)
                    case 0o010000:
                        try writer.special(relative, kind: .fifo, mode: mode)
                    case 0o020000, 0o060000:
                        let kind: DiskWriter.SpecialKind = mode & 0o170000 == 0o020000 ? .characterDevice : .blockDevice
                        try writer.special(relative, kind: kind, mode: mode, device: UInt64(archive_entry_rdev(entry)))
                    default:
                        throw LayerError.invalidEntry(path: name, reason: "unsupported entry type (mode \(String(mode, radix: 8)))")
                    }
                }
            } catch let error as LayerError {
                // libarchive's own errors already name the archive.
                if case .archive = error { throw error }
                throw LayerError.archive(path: path, reason: "\(error)")
            }
            count += 1
        }
        try writer.finish()
        return count
    }
}
