import Foundation
import Glibc
import Layers
import SystemSupport

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
        let output = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        var size: Int64 = 0
        func write(_ block: UnsafeRawBufferPointer) throws {
            do {
                try output.write(contentsOf: Data(block))
            } catch {
                throw RootfsError.io(path: directory, reason: "writing \(data.name) of \(path) decompressed: \(error)")
            }
            size += Int64(block.count)
        }
        let stream = try DebTarStream(
            descriptor: descriptor, offset: data.offset, size: data.size, debPath: path, memberName: data.name, raw: true)
        while try stream.next() != nil {
            try stream.readBlocks { block, _ in try write(block) }
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
    /// The numeric owner and group.
    var uid: UInt32
    var gid: UInt32
    /// The contents' size (0 when the tar does not say).
    var size: Int64
}

/// Reads the entries of a tar member with ``ArchiveReader``, pulling the member's bytes from
/// the `.deb` with `pread` as libarchive asks for them; errors name the package and the member.
final class DebTarStream {
    private let reader: ArchiveReader
    private let debPath: String
    private let memberName: String

    /// A reader over `size` bytes at `offset` of `descriptor`: a tar, possibly compressed, or
    /// with `raw`, any compressed stream read as one entry of its decompressed bytes. gzip (by
    /// its first bytes, as libarchive tells) is inflated by imagegen (``GunzipBlocks``: ISA-L
    /// when it loads), the rest by libarchive.
    fileprivate init(descriptor: Int32, offset: Int64, size: Int64, debPath: String, memberName: String, raw: Bool = false) throws {
        self.debPath = debPath
        self.memberName = memberName
        // No inflater (IMAGEGEN_INFLATE asks for what this host lacks) is not the package's fault.
        let source: ArchiveReader.Source = size >= 2 && GunzipBlocks.isGzip(descriptor: descriptor, at: offset)
            ? .blocks(try GunzipBlocks(compressed: FileRangeBlocks(descriptor: descriptor, offset: offset, size: size, name: memberName)))
            : .range(descriptor: descriptor, offset: offset, size: size)
        do {
            reader = try ArchiveReader(source, format: raw ? .raw : .tar, name: memberName)
        } catch {
            throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): \(error.message)")
        }
    }

    /// Runs a read, turning libarchive's failure into an error naming the package and the member.
    private func reading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ArchiveReaderError {
            throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): \(error.message)")
        }
    }

    /// The next entry's header, or nil at the end.
    func next() throws -> DebTarHeader? {
        guard let entry = try reading({ try reader.next() }) else { return nil }
        let kind: DebTarHeader.Kind
        switch entry.kind {
        case .regular: kind = .regular
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        case .hardlink: kind = .hardlink
        case .fifo: kind = .fifo
        case .characterDevice, .blockDevice: kind = .device
        case .socket, .other: kind = .other
        }
        return DebTarHeader(
            name: entry.name, kind: kind, mode: entry.permissions, linkTarget: entry.linkTarget, uid: entry.uid, gid: entry.gid,
            size: entry.size ?? 0)
    }

    /// The current entry's contents, read into memory (for the small files of `control.tar`).
    func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        guard let bytes = try reading({ try reader.readAll(limit: limit) }) else {
            throw RootfsError.invalidDeb(deb: debPath, reason: "\(memberName): an entry is larger than \(limit) bytes")
        }
        return bytes
    }

    /// Streams the current entry's data blocks (with their offsets, for sparse files) to `body`.
    func readBlocks(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        try reading { try reader.readBlocks(body) }
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
