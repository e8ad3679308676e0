/// One tar entry's metadata, and its encoding as POSIX pax/ustar header blocks.
///
/// The encoding is deterministic: no user or group names, no atime/ctime, a fixed pax header
/// name, and pax records only where ustar cannot hold a value (names over 100/255 bytes, link
/// targets over 100 bytes, sizes of 8 GiB and more, large ids).
public struct TarHeader: Hashable, Sendable {
    /// The tar type flag.
    public enum Kind: UInt8, Sendable {
        case regular = 0x30        // '0'
        case hardlink = 0x31       // '1'
        case symlink = 0x32        // '2'
        case characterDevice = 0x33 // '3'
        case blockDevice = 0x34    // '4'
        case directory = 0x35      // '5'
        case fifo = 0x36           // '6'
    }

    /// The path inside the archive, relative, without a leading `/` or `./` and without a
    /// trailing `/` (added for directories when encoding).
    public var path: String
    /// What kind of entry this is.
    public var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    public var mode: UInt32
    /// Owner id.
    public var uid: UInt32
    /// Group id.
    public var gid: UInt32
    /// Content size (regular files only).
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var mtime: Int64
    /// Target of a symlink or hardlink.
    public var linkTarget: String
    /// Device numbers (character and block devices).
    public var deviceMajor: UInt32
    /// Device numbers (character and block devices).
    public var deviceMinor: UInt32

    /// An entry.
    public init(
        path: String, kind: Kind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, size: Int64 = 0,
        mtime: Int64 = 0, linkTarget: String = "", deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = kind == .regular ? size : 0
        self.mtime = mtime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
    }

    /// The header blocks (a pax extended header first where needed), a multiple of 512 bytes.
    public func encode() throws -> [UInt8] {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw OCIError.unrepresentableEntry(path: path, reason: "empty path or NUL byte")
        }
        let name = kind == .directory && !path.hasSuffix("/") ? path + "/" : path
        var pax: [(String, String)] = []
        let nameBytes = Array(name.utf8)
        var ustarName = nameBytes
        var ustarPrefix: [UInt8] = []
        if nameBytes.count > 100 {
            if let split = Self.ustarSplit(nameBytes) {
                ustarPrefix = Array(nameBytes[..<split])
                ustarName = Array(nameBytes[(split + 1)...])
            } else {
                pax.append(("path", name))
                ustarName = Array(nameBytes.suffix(100))
            }
        }
        var linkBytes = Array(linkTarget.utf8)
        if linkBytes.count > 100 {
            pax.append(("linkpath", linkTarget))
            linkBytes = Array(linkBytes.prefix(100))
        }
        let maxOctal11: Int64 = 0o77777777777
        if size > maxOctal11 { pax.append(("size", String(size))) }
        if uid > 0o7777777 { pax.append(("uid", String(uid))) }
        if gid > 0o7777777 { pax.append(("gid", String(gid))) }
        guard mtime >= 0, mtime <= maxOctal11 else {
            throw OCIError.unrepresentableEntry(path: path, reason: "mtime \(mtime) is outside 0...\(maxOctal11)")
        }

        var out: [UInt8] = []
        if !pax.isEmpty {
            let records = Self.paxRecords(pax)
            // A fixed name, so the bytes do not depend on a process id as GNU tar's do.
            let paxName = Array(("PaxHeaders/" + String(decoding: ustarName.suffix(80), as: UTF8.self)).utf8)
            out += Self.block(
                name: Array(paxName.prefix(100)), prefix: [], mode: 0o644, uid: 0, gid: 0, size: Int64(records.count),
                mtime: mtime, type: 0x78, link: [], major: 0, minor: 0)
            out += records
            out += [UInt8](repeating: 0, count: Self.padding(Int64(records.count)))
        }
        out += Self.block(
            name: ustarName, prefix: ustarPrefix, mode: mode & 0o7777, uid: min(uid, 0o7777777),
            gid: min(gid, 0o7777777), size: size > maxOctal11 ? 0 : size, mtime: mtime,
            type: kind.rawValue, link: linkBytes, major: deviceMajor, minor: deviceMinor)
        return out
    }

    /// Bytes of zero padding after `size` bytes of content.
    public static func padding(_ size: Int64) -> Int { Int((512 - size % 512) % 512) }

    /// The two zero blocks that end an archive.
    public static let endOfArchive = [UInt8](repeating: 0, count: 1024)

    /// Where to split a long name into ustar prefix (≤ 155) and name (≤ 100), if possible.
    private static func ustarSplit(_ name: [UInt8]) -> Int? {
        guard name.count <= 256 else { return nil }
        // The latest '/' whose prefix fits leaves the shortest name.
        var index = min(name.count - 1, 155)
        while index > 0 {
            if name[index] == 0x2F, name.count - index - 1 <= 100, name.count - index - 1 > 0 { return index }
            index -= 1
        }
        return nil
    }

    /// `"%d key=value\n"` records, where the length counts itself.
    private static func paxRecords(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in pairs {
            let body = " \(key)=\(value)\n".utf8.count
            var length = body + String(body).count
            while String(length).count + body != length { length = body + String(length).count }
            out += Array("\(length) \(key)=\(value)\n".utf8)
        }
        return out
    }

    private static func block(
        name: [UInt8], prefix: [UInt8], mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, mtime: Int64,
        type: UInt8, link: [UInt8], major: UInt32, minor: UInt32
    ) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (i, byte) in bytes.enumerated() { b[offset + i] = byte }
        }
        func octal(_ value: Int64, width: Int) -> [UInt8] {
            // width-1 zero-padded octal digits, then NUL.
            var digits = Array(String(value, radix: 8).utf8)
            digits = [UInt8](repeating: 0x30, count: max(0, width - 1 - digits.count)) + digits
            return digits + [0]
        }
        put(name, at: 0)
        put(octal(Int64(mode), width: 8), at: 100)
        put(octal(Int64(uid), width: 8), at: 108)
        put(octal(Int64(gid), width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(mtime, width: 12), at: 136)
        b[156] = type
        put(link, at: 157)
        put(Array("ustar\0".utf8), at: 257)
        put([0x30, 0x30], at: 263)
        if type == 0x33 || type == 0x34 {
            put(octal(Int64(major), width: 8), at: 329)
            put(octal(Int64(minor), width: 8), at: 337)
        }
        put(prefix, at: 345)
        // The checksum is computed with its own field as eight spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = b.reduce(0) { $0 + Int($1) }
        put(octal(Int64(sum), width: 7) + [0x20], at: 148)
        return b
    }
}
