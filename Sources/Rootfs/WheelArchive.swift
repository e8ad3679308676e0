internal import CArchive
import Layers

/// A wheel's zip, read with libarchive through its central directory (the seekable zip
/// reader), which is where the members' unix modes are (the external attributes), and what
/// Python's `zipfile` and pip read too. Members come in central-directory order; their
/// contents are streamed in libarchive's blocks, CRC-checked by libarchive.
final class WheelArchive {
    /// One member's header.
    struct Member {
        /// What a member is.
        enum Kind { case file, directory, symlink, other }

        /// The name as stored in the zip.
        var name: String
        /// Its kind, from the unix mode (or the trailing `/` of a directory; no type bits: a file).
        var kind: Kind
        /// The permission bits.
        var permissions: UInt32
        /// The uncompressed size the zip declares.
        var size: Int64
    }

    private let handle: OpaquePointer
    /// The wheel's file name, for messages.
    let wheel: String

    /// Opens the wheel at `path`; `wheel` names it in errors.
    init(path: String, wheel: String) throws {
        guard let handle = archive_read_new() else { throw RootfsError.invalidWheel(wheel: wheel, reason: "libarchive: out of memory") }
        self.handle = handle
        self.wheel = wheel
        archive_read_support_format_zip_seekable(handle)
        try check(archive_read_open_filename(handle, path, 1 << 16))
    }

    // The handle is used by one caller at a time and freed here once.
    deinit { archive_read_free(handle) }

    /// Turns a libarchive return code into an error carrying libarchive's message.
    private func check(_ code: Int32) throws {
        guard code < ARCHIVE_WARN else { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(code)"
        throw RootfsError.invalidWheel(wheel: wheel, reason: "not a readable zip: \(message)")
    }

    /// The next member's header, or nil at the end; its contents are skipped unless read.
    func next() throws -> Member? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        try check(status)
        guard let entry else { throw RootfsError.invalidWheel(wheel: wheel, reason: "libarchive returned no entry") }
        guard let name = (archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry)).map({ String(cString: $0) }) else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "a member has no readable name")
        }
        // The one rule of every zip reader here: a mode without file-type bits (hatchling and
        // flit write `0o644 << 16` for METADATA and RECORD) is a regular file, or a directory
        // when the name ends in `/` — whether or not libarchive filled the type in.
        let kind: Member.Kind
        switch ZipDirectory.kind(unixMode: UInt32(archive_entry_mode(entry)), name: name) {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        case .other: kind = .other
        }
        return Member(name: name, kind: kind, permissions: UInt32(archive_entry_perm(entry)) & 0o7777, size: archive_entry_size(entry))
    }

    /// Streams the current member's contents to `body`, block by block.
    func read(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        var expected: Int64 = 0
        while true {
            let status = archive_read_data_block(handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            try check(status)
            // Zip members are never sparse: a hole would mean a reader this code does not expect.
            guard offset == expected else { throw RootfsError.invalidWheel(wheel: wheel, reason: "unexpected sparse member data") }
            expected += Int64(size)
            if let buffer, size > 0 { try body(UnsafeRawBufferPointer(start: buffer, count: size)) }
        }
    }

    /// The current member's contents, if at most `limit` bytes; nil if larger.
    func readAll(limit: Int) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var tooLarge = false
        try read { chunk in
            guard !tooLarge else { return }
            if bytes.count + chunk.count > limit {
                tooLarge = true
                bytes = []
            } else {
                bytes.append(contentsOf: chunk)
            }
        }
        return tooLarge ? nil : bytes
    }
}
