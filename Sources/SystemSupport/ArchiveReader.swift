internal import CArchive
import Glibc

/// Reads an archive's entries with libarchive, one after the other, streaming each entry's
/// contents: the only owner of a libarchive handle in imagegen.
///
/// Callers see Swift values only (`Entry`, `ArchiveReaderError`); the rules of what an entry
/// may be (paths, links, devices) are theirs, with `TreePath` for the paths.
public final class ArchiveReader {
    /// Where the archive's bytes come from.
    public enum Source {
        /// A whole file.
        case file(String)
        /// `size` bytes at `offset` of an open file (a member of an `ar` archive), read with `pread`
        /// as libarchive asks for them; the caller keeps the descriptor open while reading.
        case range(descriptor: Int32, offset: Int64, size: Int64)
        /// Blocks that their owner makes as libarchive asks for them (a decompressor of
        /// imagegen's own); what they throw is the reading error.
        case blocks(any ArchiveBlocks)
    }

    /// Which formats the reader accepts.
    public enum Format: Sendable {
        /// Whatever libarchive recognises (tar, zip, ar, cpio…), compressed or not.
        case any
        /// A tar, compressed or not.
        case tar
        /// Any compressed stream, read as one entry of its decompressed bytes.
        case raw
        /// A zip read through its central directory (where the members' unix modes are), as
        /// Python's `zipfile` reads a wheel; contents are CRC-checked.
        case zip
    }

    /// An entry's kind, from its mode's type bits (libarchive's AE_IF* values are the POSIX ones).
    public enum Kind: Sendable, Hashable {
        case regular, directory, symlink, hardlink, fifo, characterDevice, blockDevice, socket
        /// Type bits that name none of the above, or none at all (a zip's members are better
        /// read from `mode` with the zip's own rule: see `ZipDirectory`).
        case other
    }

    /// What the reader does with a name or link target that is not valid UTF-8.
    public enum InvalidNames: Sendable {
        /// Takes the first spelling that is valid UTF-8; `next()` throws when none is (an
        /// unpacker whose every name becomes a path it checks).
        case refuse
        /// Takes the first spelling libarchive has, ill-formed sequences read as U+FFFD the way
        /// `String(cString:)` reads them (an archive whose names are the user's data).
        case repair
    }

    /// One entry's header.
    public struct Entry: Sendable {
        /// The name as stored (`./usr/bin/x`), UTF-8.
        public var name: String
        /// Its kind; `hardlink` when it names an earlier entry.
        public var kind: Kind
        /// The whole mode as stored, type bits included (a zip may store none: see `ZipDirectory`).
        public var mode: UInt32
        /// The permission bits, setuid, setgid and sticky included.
        public var permissions: UInt32 { mode & 0o7777 }
        /// The contents' size, when the archive says it.
        public var size: Int64?
        /// A symlink's or hard link's target, as stored; empty for other kinds.
        public var linkTarget: String
        /// The numeric owner.
        public var uid: UInt32
        /// The numeric group.
        public var gid: UInt32
        /// A device node's number.
        public var device: UInt64
    }

    private let handle: OpaquePointer
    /// Whether names are taken as UTF-8 first (zip, whose flag says so) or as stored (tar, whose
    /// names are bytes; a C locale passes them through).
    private let utf8First: Bool
    /// Whether invalid UTF-8 is repaired rather than refused.
    private let repairing: Bool
    /// The blocks of a `.range` or `.blocks` source (libarchive holds a pointer to it).
    private let feed: BlockFeed?
    /// The archive, for messages.
    public let name: String

    /// Opens `source`; `name` is what errors call it.
    public init(
        _ source: Source, format: Format = .any, invalidNames: InvalidNames = .refuse, name: String
    ) throws(ArchiveReaderError) {
        guard let handle = archive_read_new() else { throw ArchiveReaderError(archive: name, message: "libarchive: out of memory") }
        self.handle = handle
        self.name = name
        utf8First = format == .zip
        repairing = invalidNames == .repair
        switch format {
        case .any:
            archive_read_support_filter_all(handle)
            archive_read_support_format_all(handle)
        case .tar:
            archive_read_support_filter_all(handle)
            archive_read_support_format_tar(handle)
        case .raw:
            archive_read_support_filter_all(handle)
            archive_read_support_format_raw(handle)
        case .zip:
            archive_read_support_format_zip_seekable(handle)
        }
        switch source {
        case .file:
            feed = nil
        case .range(let descriptor, let offset, let size):
            feed = BlockFeed(FileRangeBlocks(descriptor: descriptor, offset: offset, size: size, name: name))
        case .blocks(let blocks):
            feed = BlockFeed(blocks)
        }
        if case .file(let path) = source {
            try check(archive_read_open_filename(handle, path, 1 << 16))
        } else if let feed {
            archive_read_set_read_callback(handle) { _, client, block in
                guard let client, let block else { return -1 }
                return Unmanaged<BlockFeed>.fromOpaque(client).takeUnretainedValue().read(block)
            }
            archive_read_set_callback_data(handle, Unmanaged.passUnretained(feed).toOpaque())
            try check(archive_read_open1(handle))
        }
    }

    // One reader is used by one caller at a time and the handle is freed here, once.
    deinit { archive_read_free(handle) }

    /// A libarchive return code as an error carrying libarchive's message (warnings pass).
    private func check(_ code: Int32) throws(ArchiveReaderError) {
        guard code < ARCHIVE_WARN else { return }
        // A source that failed says why better than libarchive, which only saw the -1.
        let message = feed?.failure.map { "\($0)" }
            ?? archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(code)"
        throw ArchiveReaderError(archive: name, message: message)
    }

    /// The next entry's header, or nil at the end; its contents are skipped unless read.
    public func next() throws(ArchiveReaderError) -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        try check(status)
        guard let entry else { throw ArchiveReaderError(archive: name, message: "libarchive returned no entry") }
        let spellings = [archive_entry_pathname(entry), archive_entry_pathname_utf8(entry)]
        guard let path = string(utf8First ? spellings.reversed() : spellings) else {
            throw ArchiveReaderError(archive: name, message: repairing ? "an entry has no name" : "an entry name is not valid UTF-8")
        }
        let mode = UInt32(archive_entry_mode(entry))
        var kind: Kind
        switch mode & 0o170000 {
        case 0o100000: kind = .regular
        case 0o040000: kind = .directory
        case 0o120000: kind = .symlink
        case 0o010000: kind = .fifo
        case 0o020000: kind = .characterDevice
        case 0o060000: kind = .blockDevice
        case 0o140000: kind = .socket
        default: kind = .other
        }
        var target = ""
        if let hardlink = string([archive_entry_hardlink(entry), archive_entry_hardlink_utf8(entry)]) {
            kind = .hardlink
            target = hardlink
        } else if kind == .symlink {
            target = string([archive_entry_symlink(entry), archive_entry_symlink_utf8(entry)]) ?? ""
        }
        return Entry(
            name: path, kind: kind, mode: mode, size: archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil,
            linkTarget: target, uid: UInt32(truncatingIfNeeded: archive_entry_uid(entry)),
            gid: UInt32(truncatingIfNeeded: archive_entry_gid(entry)), device: UInt64(archive_entry_rdev(entry)))
    }

    /// Streams the current entry's contents to `body` in libarchive's blocks, each with its
    /// offset, as libarchive hands them over (an empty one included): a sparse file's holes are
    /// the gaps between them, and a hole at its end has no block (its `size` says where it ends).
    public func readBlocks(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        _ = try blocks(body)
    }

    /// `readBlocks`, returning the offset libarchive gives with the end: where the contents end,
    /// a trailing hole included.
    private func blocks(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws -> Int64 {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return offset }
            try check(status)
            try body(UnsafeRawBufferPointer(start: buffer, count: size), offset)
        }
    }

    /// The current entry's contents as `archive_read_data` reads them (holes, a trailing one
    /// included, as zeros), or nil when they are more than `limit` bytes (then the rest is skipped).
    public func readAll(limit: Int) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var tooLarge = false
        let limit = Int64(limit)
        func fill(to offset: Int64) {
            if offset > Int64(bytes.count) { bytes += repeatElement(0, count: Int(offset) - bytes.count) }
        }
        let end = try blocks { chunk, offset in
            guard !tooLarge else { return }
            guard offset >= Int64(bytes.count) else {
                throw ArchiveReaderError(archive: name, message: "an entry's blocks are out of order")
            }
            if offset + Int64(chunk.count) > limit {
                tooLarge = true
                bytes = []
                return
            }
            fill(to: offset)
            bytes.append(contentsOf: chunk)
        }
        guard !tooLarge, end <= limit else { return nil }
        fill(to: end)
        return bytes
    }

    /// The first of `spellings` (an entry's name as stored, and as UTF-8) that is valid UTF-8,
    /// or, when repairing, the first there is.
    private func string(_ spellings: [UnsafePointer<CChar>?]) -> String? {
        if repairing { return spellings.lazy.compactMap { $0 }.first.map { String(cString: $0) } }
        return spellings.lazy.compactMap { $0 }.compactMap { String(validatingCString: $0) }.first
    }

    /// Hands libarchive the blocks of a source and keeps what the source threw. A class so that
    /// libarchive can hold a stable pointer to it; the reader keeps it alive as long as the handle.
    private final class BlockFeed {
        let blocks: any ArchiveBlocks
        var failure: (any Error)?

        init(_ blocks: any ArchiveBlocks) { self.blocks = blocks }

        func read(_ block: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
            do {
                let bytes = try blocks.next()
                block.pointee = bytes.baseAddress.map { UnsafeRawPointer($0) }
                return bytes.count
            } catch {
                failure = error
                return -1
            }
        }
    }
}

/// An archive's bytes, made block by block as ``ArchiveReader`` asks for them.
public protocol ArchiveBlocks: AnyObject {
    /// The next block, valid until the next call; empty at the end.
    func next() throws -> UnsafeRawBufferPointer
}

/// A byte range of a file, read with `pread` in blocks of up to 64 KiB.
public final class FileRangeBlocks: ArchiveBlocks {
    private let descriptor: Int32
    /// Whether the descriptor is this reader's, to close when it goes.
    private let owned: Bool
    private var offset: Int64
    private let end: Int64
    private let name: String
    private let buffer: UnsafeMutableRawBufferPointer

    /// `size` bytes at `offset` of `descriptor`, which the caller keeps open; `name` is what
    /// errors call it.
    public init(descriptor: Int32, offset: Int64, size: Int64, name: String) {
        self.descriptor = descriptor
        owned = false
        self.offset = offset
        self.name = name
        end = offset + size
        buffer = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    /// The whole file at `path`.
    public init(path: String) throws(SystemError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .call("open", path: path, errno: errno) }
        // The size from the end's offset, not `fstat`: with CArchive imported in this file, a
        // `stat()` here made a whole-module (release) build refuse every other `stat()` of the
        // module as CArchive's.
        let size = lseek(descriptor, 0, SEEK_END)
        guard size >= 0 else {
            let error = errno
            close(descriptor)
            throw .call("lseek", path: path, errno: error)
        }
        self.descriptor = descriptor
        owned = true
        offset = 0
        name = path
        end = Int64(size)
        buffer = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        if owned { close(descriptor) }
    }

    public func next() throws -> UnsafeRawBufferPointer {
        let wanted = Int(min(Int64(buffer.count), end - offset))
        guard wanted > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        while true {
            let n = pread(descriptor, buffer.baseAddress, wanted, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError.call("pread", path: name, errno: errno) }
            guard n > 0 else { throw SystemError.unexpected(path: name, reason: "the file ends \(end - offset) bytes early") }
            offset += Int64(n)
            return UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        }
    }
}

/// libarchive could not read an archive: its message.
public struct ArchiveReaderError: Error, Hashable, CustomStringConvertible {
    /// The archive, as the reader's owner named it.
    public var archive: String
    /// libarchive's message.
    public var message: String

    public var description: String { "\(archive): \(message)" }
}
