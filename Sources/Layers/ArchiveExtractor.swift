internal import CArchive
import OCI

/// Unpacks an archive file (tar, optionally gzip/xz/zstd/bzip2-compressed; zip; ar, as in a
/// `.deb`) into a directory with libarchive, refusing entries that would land outside it
/// (absolute paths, `..`, writing through a symlink).
public final class ArchiveExtractor {
    private let reader: OpaquePointer
    private let writer: OpaquePointer
    /// The archive being read.
    public let path: String

    /// Opens `path` for extraction.
    public init(path: String) throws {
        guard let reader = archive_read_new(), let writer = ArchiveDiskWriter.make() else {
            throw LayerError.archive(path: path, reason: "libarchive: out of memory")
        }
        self.reader = reader
        self.writer = writer
        self.path = path
        archive_read_support_filter_all(reader)
        archive_read_support_format_all(reader)
        // Entry names are normalised to relative paths (a leading '/' is dropped, '..' refused)
        // and then prefixed with the target directory, so the absolute-path guard would refuse
        // every entry; the symlink guard stops writes through links planted by earlier entries.
        let flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
            | ARCHIVE_EXTRACT_UNLINK
        archive_write_disk_set_options(writer, flags)
        archive_write_disk_set_standard_lookup(writer)
        try wrap(archive_read_open_filename(reader, path, 1 << 16), reader)
    }

    deinit {
        archive_read_free(reader)
        archive_write_free(writer)
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
        var count = 0
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            try wrap(status, reader)
            guard let entry, let name = archive_entry_pathname(entry).map({ String(cString: $0) }) else { continue }
            // "./" names the root itself: the target directory already stands for it.
            if name.split(separator: "/").allSatisfy({ $0 == "." }) { continue }
            let relative = try normalisedPath(name)
            makeMissingParents(of: relative, in: directory)
            archive_entry_set_pathname(entry, directory + "/" + relative)
            if let link = archive_entry_hardlink(entry).map({ String(cString: $0) }) {
                archive_entry_set_hardlink(entry, directory + "/" + (try normalisedPath(link)))
            }
            try wrap(archive_write_header(writer, entry), writer)
            if archive_entry_size(entry) > 0 {
                var buffer: UnsafeRawPointer?
                var size = 0
                var offset: Int64 = 0
                while true {
                    let read = archive_read_data_block(reader, &buffer, &size, &offset)
                    if read == ARCHIVE_EOF { break }
                    try wrap(read, reader)
                    let written = archive_write_data_block(writer, buffer, size, offset)
                    try wrap(Int32(truncatingIfNeeded: written), writer)
                }
            }
            try wrap(archive_write_finish_entry(writer), writer)
            count += 1
        }
        return count
    }
}
