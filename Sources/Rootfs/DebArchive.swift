internal import CArchive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Debian binary package opened for reading (deb(5)): an `ar` archive whose members are
/// `debian-binary` (the format version, `2.0`), `control.tar[.gz|.xz|.zst]` and
/// `data.tar[.gz|.xz|.zst|.bz2|.lzma]`, in that order; members whose names start with `_` are
/// ignored, as dpkg does.
///
/// The `ar` layer is read here (it is 60-byte headers and nothing else); each inner tar is
/// handed to libarchive as a byte range of the file, so a large `data.tar` is streamed.
final class DebArchive {
    /// One `ar` member: its name and where its bytes lie in the file.
    struct Member {
        var name: String
        var offset: Int64
        var size: Int64
    }

    /// The `.deb`, as the caller named it (used in errors).
    let path: String
    /// The open file.
    let descriptor: Int32
    /// `control.tar…`.
    let control: Member
    /// `data.tar…`.
    let data: Member

    /// Opens `path` and locates its members.
    init(path: String) throws {
        self.path = path
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RootfsError.io(path: path, reason: String(cString: strerror(errno))) }
        descriptor = fd
        do {
            (control, data) = try Self.members(fd: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Reads the `ar` headers: checks `debian-binary` and returns the control and data members.
    private static func members(fd: Int32, path: String) throws -> (Member, Member) {
        func fail(_ reason: String) -> RootfsError { .invalidDeb(deb: path, reason: reason) }
        guard try readExactly(fd: fd, count: 8, at: 0, path: path) == Array("!<arch>\n".utf8) else {
            throw fail("not a Debian package (no 'ar' signature)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RootfsError.io(path: path, reason: String(cString: strerror(errno))) }
        let fileSize = Int64(st.st_size)
        var offset: Int64 = 8
        var found: [Member] = []
        while true {
            let header = try readExactly(fd: fd, count: 60, at: offset, path: path, allowShort: true)
            if header.isEmpty { break }
            guard header.count == 60, header[58] == 0x60, header[59] == 0x0A else {
                throw fail("damaged 'ar' member header at byte \(offset)")
            }
            // Names are space-padded; GNU ar ends them with '/'.
            var name = String(decoding: header[0..<16], as: UTF8.self)
            while name.hasSuffix(" ") { name.removeLast() }
            if name.hasSuffix("/") { name.removeLast() }
            let sizeText = String(decoding: header[48..<58], as: UTF8.self).debTrimmed
            guard let size = Int64(sizeText), size >= 0 else { throw fail("member '\(name)' has a bad size '\(sizeText)'") }
            found.append(Member(name: name, offset: offset + 60, size: size))
            offset += 60 + size + (size & 1)
        }
        let members = found.filter { !$0.name.hasPrefix("_") }
        guard members.count >= 3, members[0].name == "debian-binary" else {
            throw fail("expected the members 'debian-binary', 'control.tar…', 'data.tar…' (found \(found.map(\.name)))")
        }
        let version = try readExactly(fd: fd, count: Int(min(members[0].size, 16)), at: members[0].offset, path: path)
        guard String(decoding: version, as: UTF8.self).hasPrefix("2.") else {
            throw fail("unsupported format version '\(String(decoding: version, as: UTF8.self).debTrimmed)'")
        }
        let controlNames = ["control.tar", "control.tar.gz", "control.tar.xz", "control.tar.zst"]
        let dataNames = ["data.tar", "data.tar.gz", "data.tar.xz", "data.tar.zst", "data.tar.bz2", "data.tar.lzma"]
        guard controlNames.contains(members[1].name) else {
            throw fail("the second member is '\(members[1].name)', expected control.tar[.gz|.xz|.zst]")
        }
        guard dataNames.contains(members[2].name) else {
            throw fail("the third member is '\(members[2].name)', expected data.tar[.gz|.xz|.zst|.bz2|.lzma]")
        }
        for member in members[0...2] where member.offset + member.size > fileSize {
            throw fail("member '\(member.name)' is truncated")
        }
        return (members[1], members[2])
    }

    /// `count` bytes at `offset`; fewer only at the end of the file with `allowShort`.
    private static func readExactly(fd: Int32, count: Int, at offset: Int64, path: String, allowShort: Bool = false) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RootfsError.io(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        guard done == count || allowShort else {
            throw RootfsError.invalidDeb(deb: path, reason: "unexpected end of file at byte \(offset + Int64(done))")
        }
        return Array(bytes.prefix(done))
    }

    /// A libarchive reader over one member (a tar, possibly compressed).
    func open(_ member: Member) throws -> DebTarStream {
        try DebTarStream(descriptor: descriptor, offset: member.offset, size: member.size, debPath: path, memberName: member.name)
    }

    /// `data.tar` for reading more than once: a compressed one is decompressed once into an
    /// unnamed temporary file (under `$TMPDIR`), so that unpacking's two passes over it —
    /// checking every entry, then writing — pay for xz or zstd once.
    func decompressedData() throws -> DebDataTar {
        guard data.name != "data.tar" else { return DebDataTar(archive: self, descriptor: descriptor, offset: data.offset, size: data.size) }
        let directory = NSTemporaryDirectory()  // $TMPDIR or /tmp, as the project's other scratch files
        var template = Array("\(directory)/imagegen-data-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            let fd = mkstemp(buffer.baseAddress!)
            if fd >= 0 { unlink(buffer.baseAddress!) }  // unnamed from here on: gone when closed
            return fd
        }
        guard fd >= 0 else { throw RootfsError.io(path: directory, reason: "cannot make a temporary file: \(String(cString: strerror(errno)))") }
        let decompressed = DebDataTar(archive: self, descriptor: fd, offset: 0, size: 0, owned: true)
        let stream = try DebTarStream(
            descriptor: descriptor, offset: data.offset, size: data.size, debPath: path, memberName: data.name, raw: true)
        let output = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        var size: Int64 = 0
        while try stream.next() != nil {
            try stream.readBlocks { block, _ in
                do {
                    try output.write(contentsOf: Data(block))
                } catch {
                    throw RootfsError.io(path: directory, reason: "writing \(data.name) of \(path) decompressed: \(error)")
                }
                size += Int64(block.count)
            }
        }
        decompressed.size = size
        return decompressed
    }
}

/// A package's `data.tar`, uncompressed, to be read as often as needed (see
/// `DebArchive.decompressedData()`). Holds the package open.
final class DebDataTar {
    private let archive: DebArchive
    private let descriptor: Int32
    private let offset: Int64
    fileprivate(set) var size: Int64
    private let owned: Bool

    fileprivate init(archive: DebArchive, descriptor: Int32, offset: Int64, size: Int64, owned: Bool = false) {
        self.archive = archive
        self.descriptor = descriptor
        self.offset = offset
        self.size = size
        self.owned = owned
    }

    deinit { if owned { close(descriptor) } }

    /// A new reader over the tar's entries.
    func open() throws -> DebTarStream {
        try DebTarStream(descriptor: descriptor, offset: offset, size: size, debPath: archive.path, memberName: archive.data.name)
    }
}

/// One tar entry's header, as Swift values.
struct DebTarHeader {
    /// The kinds of entry a `.deb` may hold (and those it may not).
    enum Kind: Equatable {
        case regular, directory, symlink, hardlink, fifo, device, other
    }

    /// The name as stored: `./usr/bin/x`, `./usr/`.
    var name: String
    var kind: Kind
    /// Permission bits, setuid/setgid/sticky included.
    var mode: UInt32
    /// Symlink or hard-link target, as stored.
    var linkTarget: String
}

/// Reads the entries of a tar member with libarchive, pulling the member's bytes from the
/// `.deb` with `pread` as libarchive asks for them.
final class DebTarStream {
    private let handle: OpaquePointer
    private let source: MemberSource
    private let debPath: String
    private let memberName: String
    /// The entry `next()` returned last; valid until the next call.
    private(set) var entry: OpaquePointer?

    /// Where libarchive's read callback takes its bytes from. A class so that libarchive can
    /// hold a stable pointer to it; `DebTarStream` keeps it alive for the reader's lifetime.
    private final class MemberSource {
        let fd: Int32
        var offset: Int64
        let end: Int64
        let buffer: UnsafeMutableRawPointer
        let capacity = 1 << 16

        init(fd: Int32, offset: Int64, size: Int64) {
            self.fd = fd
            self.offset = offset
            self.end = offset + size
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }

        deinit { buffer.deallocate() }

        func read(_ block: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
            let wanted = Int(min(Int64(capacity), end - offset))
            guard wanted > 0 else { return 0 }
            while true {
                let n = pread(fd, buffer, wanted, off_t(offset))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return -1 }
                offset += Int64(n)
                block.pointee = UnsafeRawPointer(buffer)
                return n
            }
        }
    }

    /// A reader over `size` bytes at `offset` of `descriptor`: a tar, possibly compressed, or
    /// with `raw`, any compressed stream read as one entry of its decompressed bytes.
    fileprivate init(descriptor: Int32, offset: Int64, size: Int64, debPath: String, memberName: String, raw: Bool = false) throws {
        guard let handle = archive_read_new() else {
            throw RootfsError.invalidDeb(deb: debPath, reason: "libarchive: out of memory")
        }
        self.handle = handle
        source = MemberSource(fd: descriptor, offset: offset, size: size)
        self.debPath = debPath
        self.memberName = memberName
        archive_read_support_filter_all(handle)
        if raw { archive_read_support_format_raw(handle) } else { archive_read_support_format_tar(handle) }
        archive_read_set_read_callback(handle) { _, client, block in
            guard let client, let block else { return -1 }
            return Unmanaged<MemberSource>.fromOpaque(client).takeUnretainedValue().read(block)
        }
        archive_read_set_callback_data(handle, Unmanaged.passUnretained(source).toOpaque())
        try wrap(archive_read_open1(handle))
    }

    deinit { archive_read_free(handle) }

    /// Turns a libarchive return code into an error naming the package and the member.
    private func wrap(_ code: Int32) throws {
        guard code < ARCHIVE_WARN else { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(code)"
        throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): \(message)")
    }

    /// The next entry's header, or nil at the end.
    func next() throws -> DebTarHeader? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        try wrap(status)
        guard let entry else { return nil }
        self.entry = entry
        guard let name = Self.string(archive_entry_pathname(entry)) ?? Self.string(archive_entry_pathname_utf8(entry)) else {
            throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): an entry name is not valid UTF-8")
        }
        let mode = UInt32(archive_entry_mode(entry))
        var header = DebTarHeader(name: name, kind: .other, mode: mode & 0o7777, linkTarget: "")
        if let target = Self.string(archive_entry_hardlink(entry)) {
            header.kind = .hardlink
            header.linkTarget = target
            return header
        }
        // libarchive's AE_IF* values (casts Swift cannot import); they are the POSIX ones.
        switch mode & 0o170000 {
        case 0o100000: header.kind = .regular
        case 0o040000: header.kind = .directory
        case 0o120000:
            header.kind = .symlink
            header.linkTarget = Self.string(archive_entry_symlink(entry)) ?? Self.string(archive_entry_symlink_utf8(entry)) ?? ""
        case 0o010000: header.kind = .fifo
        case 0o020000, 0o060000: header.kind = .device
        default: header.kind = .other
        }
        return header
    }

    /// The current entry's contents, read into memory (for the small files of `control.tar`).
    func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 { try wrap(Int32(truncatingIfNeeded: n)) }
            bytes += chunk.prefix(n)
            guard bytes.count <= limit else {
                throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): an entry is larger than \(limit) bytes")
            }
        }
        return bytes
    }

    /// Streams the current entry's data blocks (with their offsets, for sparse files) to `body`.
    func readBlocks(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            try wrap(status)
            try body(UnsafeRawBufferPointer(start: buffer, count: size), offset)
        }
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(validatingCString: pointer)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    var debTrimmed: String {
        let blanks: Set<Character> = [" ", "\t", "\n", "\r"]
        guard let first = firstIndex(where: { !blanks.contains($0) }), let last = lastIndex(where: { !blanks.contains($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
