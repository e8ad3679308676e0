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

        let tailSize = Int(min(fileSize, Int64(Self.tailLength)))
        do {
            let tailOffset = fileSize - Int64(tailSize)
            let extent: Extent
            switch try Self.end(inTail: try read(tailSize, at: tailOffset)) {
            case .extent(let found): extent = found
            case .zip64(let recordOffset): extent = try Self.zip64Extent(record: try read(56, at: recordOffset))
            }
            guard extent.size <= Self.largestDirectory else { throw fail("a central directory of \(extent.size) bytes") }
            self.members = try Self.members(inDirectory: try read(Int(extent.size), at: extent.offset), count: extent.count)
        } catch let error as FormatError {
            throw fail(error.reason)
        }
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
        guard n == 30, let length = try? Self.localHeaderLength(header) else {
            throw LayerError.archive(path: path, reason: "not a readable zip: member '\(member.name)' has no local header")
        }
        return member.localHeaderOffset + length
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

extension ZipDirectory {
    /// Why bytes are not a readable zip.
    public struct FormatError: Error, Sendable {
        public var reason: String
    }

    /// Where a zip's central directory is and how many entries it holds.
    public struct Extent: Sendable, Hashable {
        public var count: Int64
        public var size: Int64
        public var offset: Int64
    }

    /// What the end of central directory record says: the directory's extent, or (ZIP64) where
    /// the 56-byte ZIP64 end record is, which holds it.
    public enum End: Sendable, Hashable {
        case extent(Extent)
        case zip64(recordOffset: Int64)
    }

    /// How many bytes at the end of a zip hold its end record: 22 plus a comment of up to 65,535.
    public static let tailLength = 22 + 65_535

    /// The largest central directory read (1 GiB).
    public static let largestDirectory: Int64 = 1 << 30

    /// Reads the end record from `tail`, a zip's last bytes (up to ``tailLength`` of them).
    public static func end(inTail tail: [UInt8]) throws(FormatError) -> End {
        guard tail.count >= 22,
              let end = stride(from: tail.count - 22, through: 0, by: -1).first(where: { tail.u32($0) == 0x0605_4B50 })
        else { throw FormatError(reason: "no end of central directory record") }
        let extent = Extent(count: Int64(tail.u16(end + 10)), size: Int64(tail.u32(end + 12)), offset: Int64(tail.u32(end + 16)))
        guard extent.count == 0xFFFF || extent.size == 0xFFFF_FFFF || extent.offset == 0xFFFF_FFFF else {
            return .extent(extent)
        }
        // ZIP64: a locator just before the end record points at the ZIP64 end record.
        guard end >= 20, tail.u32(end - 20) == 0x0706_4B50 else { throw FormatError(reason: "ZIP64 sizes without a ZIP64 locator") }
        return .zip64(recordOffset: Int64(tail.u64(end - 20 + 8)))
    }

    /// The extent a ZIP64 end of central directory record (56 bytes) gives.
    public static func zip64Extent(record: [UInt8]) throws(FormatError) -> Extent {
        guard record.count >= 56, record.u32(0) == 0x0606_4B50 else { throw FormatError(reason: "no ZIP64 end of central directory record") }
        return Extent(count: Int64(record.u64(32)), size: Int64(record.u64(40)), offset: Int64(record.u64(48)))
    }

    /// The members that the central directory `directory` (all its bytes) lists, `count` of them.
    public static func members(inDirectory directory: [UInt8], count: Int64) throws(FormatError) -> [Member] {
        func fail(_ reason: String) -> FormatError { FormatError(reason: reason) }
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
                    func take(_ value: inout Int64) throws(FormatError) {
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
        return members
    }

    /// The length of a member's local header (30 bytes plus its name and extra field), read from
    /// its first 30 bytes.
    public static func localHeaderLength(_ header: [UInt8]) throws(FormatError) -> Int64 {
        guard header.count >= 30, header.u32(0) == 0x0403_4B50 else { throw FormatError(reason: "a member has no local header") }
        return 30 + Int64(header.u16(26)) + Int64(header.u16(28))
    }
}

extension [UInt8] {
    /// Little-endian integers at a byte offset (zip's byte order).
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
