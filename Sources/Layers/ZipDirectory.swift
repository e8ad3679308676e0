import OCI

/// A zip file's central directory, read by hand (PKWARE APPNOTE.TXT 6.3: 4.3.6 local file
/// header, 4.3.12 central directory header, 4.3.16 end of central directory, 4.3.14–4.3.15
/// and 4.5.3 ZIP64), for what libarchive does not tell: where each member's compressed bytes
/// start, how many there are, and the CRC-32 the directory declares. That is what a layer
/// needs to carry a member's deflate stream unchanged (`DeflatedSource`).
public struct ZipDirectory: Sendable {
    /// One member, as the central directory describes it.
    public struct Member: Sendable, Hashable {
        /// The name as stored (UTF-8 in every wheel; PEP 427 requires it).
        public var name: String
        /// The compression method: 0 stored, 8 deflate (4.4.5).
        public var method: UInt16
        /// The general purpose flags (4.4.4); bit 0 means encrypted.
        public var flags: UInt16
        /// The CRC-32 of the uncompressed bytes.
        public var crc32: UInt32
        /// The compressed size.
        public var compressedSize: Int64
        /// The uncompressed size.
        public var size: Int64
        /// Where the member's local header starts.
        public var localHeaderOffset: Int64
        /// "Version made by" (4.4.2): its high byte is the host system, 3 for Unix.
        public var madeBy: UInt16
        /// The external attributes (4.4.15): for a Unix host, the mode in the high 16 bits.
        public var externalAttributes: UInt32

        /// The Unix mode (type and permission bits), when the member was made on Unix and says one.
        public var unixMode: UInt32? {
            let mode = externalAttributes >> 16
            return madeBy >> 8 == 3 && mode != 0 ? mode : nil
        }

        /// What the member is, as ``ZipDirectory/kind(unixMode:name:)`` reads it.
        public var kind: Kind { ZipDirectory.kind(unixMode: unixMode, name: name) }

        /// The permission bits (setuid, setgid and sticky included) of a member made on Unix.
        public var permissions: UInt32? { unixMode.map { $0 & 0o7777 } }
    }

    /// What a member is.
    public enum Kind: Sendable, Hashable {
        case file, directory, symlink
        /// A type zip members do not hold (a device, a FIFO, a socket): its type bits.
        case other(UInt32)
    }

    /// What a member with Unix mode `unixMode` (nil: made elsewhere, or 0) and name `name` is, read
    /// as unzip and pip (Python's `zipfile`) read it: a name ending in `/` is a directory; else
    /// the mode's file-type bits say, and a mode without them (hatchling and flit write
    /// `0o644 << 16` for the files they generate, such as `METADATA`) is a regular file.
    public static func kind(unixMode: UInt32?, name: String) -> Kind {
        if name.hasSuffix("/") { return .directory }
        switch (unixMode ?? 0) & 0o170000 {
        case 0, 0o100000: return .file
        case 0o040000: return .directory
        case 0o120000: return .symlink
        case let type: return .other(type)
        }
    }

    /// The zip file.
    public let path: String
    /// The members in directory order.
    public let members: [Member]

    /// Reads the central directory of the zip at `path`.
    public init(path: String) throws {
        self.path = path
        let reader: FileReader
        do { reader = try FileReader(path: path) } catch { throw LayerError.io(path: path, reason: "\(error)") }
        let fileSize = try reader.size()
        func fail(_ reason: String) -> LayerError { .archive(path: path, reason: "not a readable zip: \(reason)") }
        func read(_ count: Int, at offset: Int64) throws -> [UInt8] {
            guard offset >= 0, count >= 0, offset + Int64(count) <= fileSize else { throw fail("a structure runs past the end of the file") }
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = try bytes.withUnsafeMutableBytes {
                    try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]), at: offset + Int64(done))
                }
                guard n > 0 else { throw fail("unexpected end of file") }
                done += n
            }
            return bytes
        }

        // The end record sits in the last 22 bytes plus a comment of up to 65,535 bytes.
        let tailSize = Int(min(fileSize, 22 + 65_535))
        let tail = try read(tailSize, at: fileSize - Int64(tailSize))
        guard tailSize >= 22,
              let end = stride(from: tailSize - 22, through: 0, by: -1).first(where: { tail.u32($0) == 0x0605_4B50 })
        else { throw fail("no end of central directory record") }
        var count = Int64(tail.u16(end + 10))
        var directorySize = Int64(tail.u32(end + 12))
        var directoryOffset = Int64(tail.u32(end + 16))
        let endOffset = fileSize - Int64(tailSize) + Int64(end)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            let locator = try read(20, at: endOffset - 20)
            guard locator.u32(0) == 0x0706_4B50 else { throw fail("ZIP64 sizes without a ZIP64 locator") }
            let record = try read(56, at: Int64(locator.u64(8)))
            guard record.u32(0) == 0x0606_4B50 else { throw fail("no ZIP64 end of central directory record") }
            count = Int64(record.u64(32))
            directorySize = Int64(record.u64(40))
            directoryOffset = Int64(record.u64(48))
        }
        guard directorySize <= 1 << 30 else { throw fail("a central directory of \(directorySize) bytes") }
        let directory = try read(Int(directorySize), at: directoryOffset)
        var members: [Member] = []
        members.reserveCapacity(Int(min(count, 1 << 20)))
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, directory.u32(at) == 0x0201_4B50 else {
                throw fail("central directory entry \(members.count + 1) is damaged")
            }
            let nameLength = Int(directory.u16(at + 28))
            let extraLength = Int(directory.u16(at + 30))
            let commentLength = Int(directory.u16(at + 32))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= directory.count else { throw fail("central directory entry \(members.count + 1) is damaged") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            var member = Member(
                name: name, method: directory.u16(at + 10), flags: directory.u16(at + 8), crc32: directory.u32(at + 16),
                compressedSize: Int64(directory.u32(at + 20)), size: Int64(directory.u32(at + 24)),
                localHeaderOffset: Int64(directory.u32(at + 42)), madeBy: directory.u16(at + 4),
                externalAttributes: directory.u32(at + 38))
            // ZIP64 extended information (4.5.3): only the fields that overflowed, in this order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = directory.u16(extra)
                let length = Int(directory.u16(extra + 2))
                var field = extra + 4
                let fieldEnd = min(field + length, extraEnd)
                if id == 0x0001 {
                    func take(_ value: inout Int64) throws {
                        guard value == 0xFFFF_FFFF else { return }
                        guard field + 8 <= fieldEnd else { throw fail("'\(name)': short ZIP64 extra field") }
                        value = Int64(directory.u64(field))
                        field += 8
                    }
                    try take(&member.size)
                    try take(&member.compressedSize)
                    try take(&member.localHeaderOffset)
                }
                extra += 4 + length
            }
            members.append(member)
            at = next
        }
        self.members = members
    }

    /// Where `member`'s compressed bytes start: after its local header, whose name and extra
    /// field may differ in length from the central directory's.
    public func dataOffset(of member: Member) throws -> Int64 {
        let reader: FileReader
        do { reader = try FileReader(path: path) } catch { throw LayerError.io(path: path, reason: "\(error)") }
        return try dataOffset(of: member, reader: reader)
    }

    /// `dataOffset(of:)` with a reader the caller keeps open across members.
    public func dataOffset(of member: Member, reader: FileReader) throws -> Int64 {
        var header = [UInt8](repeating: 0, count: 30)
        let n = try header.withUnsafeMutableBytes { try reader.read(into: $0, at: member.localHeaderOffset) }
        guard n == 30, header.u32(0) == 0x0403_4B50 else {
            throw LayerError.archive(path: path, reason: "not a readable zip: member '\(member.name)' has no local header")
        }
        return member.localHeaderOffset + 30 + Int64(header.u16(26)) + Int64(header.u16(28))
    }

    /// The member's bytes as a deflate stream in this file, when it is one that can travel
    /// unchanged: deflated, not encrypted. `origin` names it in errors.
    public func deflatedSource(of member: Member, reader: FileReader, origin: String) throws -> DeflatedSource? {
        guard member.method == 8, member.flags & 1 == 0 else { return nil }
        return DeflatedSource(
            path: path, offset: try dataOffset(of: member, reader: reader), compressedSize: member.compressedSize,
            crc32: member.crc32, origin: origin)
    }
}

extension [UInt8] {
    /// Little-endian integers at a byte offset (zip's byte order).
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
