/// A tar entry as read back: the header after pax and GNU long-name records are applied, and
/// where its content sits in the uncompressed stream.
public struct TarEntry: Hashable, Sendable {
    /// The header, with the path normalised (no trailing `/`).
    public var header: TarHeader
    /// The raw type flag (a kind imagegen does not write, such as a socket, still reads back).
    public var typeFlag: UInt8
    /// Offset of the content in the uncompressed tar stream.
    public var dataOffset: Int64
    /// The path as stored, before normalisation (for safety checks).
    public var rawPath: String

    /// The kind the stored type flag names (`7`, a contiguous file, is a regular file); nil for
    /// a type imagegen does not know (a socket, a vendor extension).
    public var storedKind: TarHeader.Kind? {
        TarHeader.Kind(rawValue: typeFlag == 0x37 ? 0x30 : typeFlag)
    }
}

/// Decodes one 512-byte ustar/pax/GNU header block.
enum TarHeaderDecoder {
    enum Block {
        case zero
        case header(TarHeader, typeFlag: UInt8, rawName: String, size: Int64)
    }

    static func decode(_ b: UnsafeRawBufferPointer, offset: Int64) throws -> Block {
        if b.allSatisfy({ $0 == 0 }) { return .zero }
        let stored = try number(b, 148, 8, offset: offset, field: "checksum")
        var unsigned = 0
        var signed = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? UInt8(0x20) : b[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        guard stored == Int64(unsigned) || stored == Int64(signed) else {
            throw OCIError.invalidTar(offset: offset, reason: "header checksum mismatch (not a tar stream?)")
        }
        var name = string(b, 0, 100)
        let magic = string(b, 257, 6)
        if magic.hasPrefix("ustar") {
            let prefix = string(b, 345, 155)
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        let size = try number(b, 124, 12, offset: offset, field: "size")
        let typeFlag = b[156] == 0 ? UInt8(0x30) : b[156]
        let kind = TarHeader.Kind(rawValue: typeFlag == 0x37 ? 0x30 : typeFlag) ?? .regular
        let header = TarHeader(
            path: name, kind: kind, mode: UInt32(truncatingIfNeeded: try number(b, 100, 8, offset: offset, field: "mode")),
            uid: UInt32(truncatingIfNeeded: try number(b, 108, 8, offset: offset, field: "uid")),
            gid: UInt32(truncatingIfNeeded: try number(b, 116, 8, offset: offset, field: "gid")),
            size: size, mtime: try number(b, 136, 12, offset: offset, field: "mtime"),
            linkTarget: string(b, 157, 100),
            deviceMajor: UInt32(truncatingIfNeeded: try number(b, 329, 8, offset: offset, field: "devmajor")),
            deviceMinor: UInt32(truncatingIfNeeded: try number(b, 337, 8, offset: offset, field: "devminor")))
        return .header(header, typeFlag: typeFlag, rawName: name, size: size)
    }

    static func string(_ b: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> String {
        var end = start
        while end < start + length, b[end] != 0 { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
    }

    static func number(_ b: UnsafeRawBufferPointer, _ start: Int, _ length: Int, offset: Int64, field: String) throws -> Int64 {
        if b[start] & 0x80 != 0 {
            // GNU base-256: big-endian two's complement with the top bit as a marker.
            var value: Int64 = Int64(b[start] & 0x7F)
            for i in (start + 1)..<(start + length) { value = value << 8 | Int64(b[i]) }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for i in start..<(start + length) {
            let c = b[i]
            if c == 0 || (c == 0x20 && seenDigit) { break }
            if c == 0x20 { continue }
            guard c >= 0x30, c <= 0x37 else {
                throw OCIError.invalidTar(offset: offset, reason: "\(field) field is not an octal number")
            }
            seenDigit = true
            value = value << 3 | Int64(c - 0x30)
        }
        return value
    }

    /// Applies pax records (`path`, `linkpath`, `size`, `uid`, `gid`, `mtime`).
    static func parsePax(_ data: [UInt8], offset: Int64) throws -> [String: String] {
        var records: [String: String] = [:]
        var i = 0
        while i < data.count {
            var j = i
            var length = 0
            while j < data.count, data[j] != 0x20 {
                guard data[j] >= 0x30, data[j] <= 0x39 else {
                    throw OCIError.invalidTar(offset: offset, reason: "malformed pax record")
                }
                length = length * 10 + Int(data[j] - 0x30)
                j += 1
            }
            guard length > 0, i + length <= data.count, data[i + length - 1] == 0x0A,
                  let eq = data[(j + 1)..<(i + length)].firstIndex(of: 0x3D)
            else { throw OCIError.invalidTar(offset: offset, reason: "malformed pax record") }
            let key = String(decoding: data[(j + 1)..<eq], as: UTF8.self)
            records[key] = String(decoding: data[(eq + 1)..<(i + length - 1)], as: UTF8.self)
            i += length
        }
        return records
    }
}

/// A push-style tar parser: feed it the uncompressed stream in chunks of any size and it calls
/// `onEntry` for each entry. Content is skipped, so memory stays bounded by one header (and pax
/// records up to 1 MiB).
public struct TarStreamParser {
    private enum State {
        case header
        case skip(Int64)
        case meta(kind: UInt8, remaining: Int64, padding: Int)
        case end
    }

    private var state: State = .header
    private var block: [UInt8] = []
    private var meta: [UInt8] = []
    private var pending: [String: String] = [:]
    private var zeroBlocks = 0
    private let onEntry: (TarEntry) throws -> Void
    /// Bytes consumed so far.
    public private(set) var offset: Int64 = 0
    /// True once the end-of-archive blocks were seen.
    public var finished: Bool { if case .end = state { return true } else { return false } }

    /// A parser that reports each entry.
    public init(onEntry: @escaping (TarEntry) throws -> Void) {
        self.onEntry = onEntry
        block.reserveCapacity(512)
    }

    /// Feeds the next bytes of the stream.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        while i < bytes.count {
            switch state {
            case .end:
                // Anything after the end blocks is padding to the record size; it is not read.
                offset += Int64(bytes.count - i)
                return
            case .skip(let remaining):
                let take = Int(min(Int64(bytes.count - i), remaining))
                i += take
                offset += Int64(take)
                state = remaining == Int64(take) ? .header : .skip(remaining - Int64(take))
            case .meta(let kind, let remaining, let padding):
                let take = Int(min(Int64(bytes.count - i), remaining))
                meta += UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])
                i += take
                offset += Int64(take)
                if remaining == Int64(take) {
                    try finishMeta(kind: kind)
                    state = padding == 0 ? .header : .skip(Int64(padding))
                } else {
                    state = .meta(kind: kind, remaining: remaining - Int64(take), padding: padding)
                }
            case .header:
                let take = min(512 - block.count, bytes.count - i)
                block += UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])
                i += take
                offset += Int64(take)
                if block.count == 512 {
                    try headerComplete()
                    block.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// Checks that the stream ended at an entry boundary.
    public func finish() throws {
        switch state {
        case .end:
            return
        case .header where block.isEmpty:
            return
        default:
            throw OCIError.invalidTar(offset: offset, reason: "truncated: the stream ends inside an entry")
        }
    }

    private mutating func headerComplete() throws {
        let at = offset - 512
        let decoded = try block.withUnsafeBytes { try TarHeaderDecoder.decode($0, offset: at) }
        switch decoded {
        case .zero:
            zeroBlocks += 1
            if zeroBlocks == 2 { state = .end }
        case .header(var header, let typeFlag, let rawName, var size):
            zeroBlocks = 0
            if let paxSize = pending["size"], let value = Int64(paxSize) { size = value }
            switch typeFlag {
            case 0x78, 0x67, 0x4C, 0x4B:  // 'x' pax, 'g' global pax, 'L'/'K' GNU long name/link
                guard size <= 1 << 20 else {
                    throw OCIError.invalidTar(offset: at, reason: "metadata entry of \(size) bytes (over 1 MiB)")
                }
                meta.removeAll(keepingCapacity: true)
                state = size == 0 ? .header : .meta(kind: typeFlag, remaining: size, padding: TarHeader.padding(size))
                if size == 0 { try finishMeta(kind: typeFlag) }
                return
            default:
                break
            }
            var raw = rawName
            if let path = pending["path"] { raw = path }
            if let link = pending["linkpath"] { header.linkTarget = link }
            if let uid = pending["uid"].flatMap(UInt32.init) { header.uid = uid }
            if let gid = pending["gid"].flatMap(UInt32.init) { header.gid = gid }
            if let mtime = pending["mtime"].flatMap({ Double($0) }) { header.mtime = Int64(mtime) }
            pending.removeAll()
            header.path = raw.hasSuffix("/") && raw.count > 1 ? String(raw.dropLast()) : raw
            // Only regular files (and old-style contiguous files) carry content in the stream.
            let carries = typeFlag == 0x30 || typeFlag == 0x37 || !(0x31...0x36).contains(typeFlag)
            let contentSize = carries ? size : 0
            header.size = contentSize
            try onEntry(TarEntry(header: header, typeFlag: typeFlag, dataOffset: offset, rawPath: raw))
            if contentSize > 0 {
                state = .skip(contentSize + Int64(TarHeader.padding(contentSize)))
            }
        }
    }

    private mutating func finishMeta(kind: UInt8) throws {
        switch kind {
        case 0x78:
            pending.merge(try TarHeaderDecoder.parsePax(meta, offset: offset)) { $1 }
        case 0x4C:
            pending["path"] = String(decoding: meta.prefix { $0 != 0 }, as: UTF8.self)
        case 0x4B:
            pending["linkpath"] = String(decoding: meta.prefix { $0 != 0 }, as: UTF8.self)
        default:
            break  // global pax headers do not change entry names for our purposes
        }
    }
}

extension TarStreamParser {
    /// Skips `count` bytes of content that the caller did not feed (it seeked past them).
    public mutating func skipContent(_ count: Int64) throws {
        guard case .skip(let remaining) = state, remaining == count else {
            throw OCIError.invalidTar(offset: offset, reason: "internal: skip of \(count) bytes outside an entry's content")
        }
        offset += count
        state = .header
    }
}
