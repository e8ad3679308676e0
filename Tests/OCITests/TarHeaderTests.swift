import OCI
import Testing

@Suite("Tar headers: encoding and reading back")
struct TarHeaderTests {
    /// Encodes headers (with content for regular files) and reads them back.
    func roundTrip(_ headers: [TarHeader]) throws -> [TarEntry] {
        var stream: [UInt8] = []
        for header in headers {
            stream += try header.encode()
            if header.kind == .regular, header.size < 1 << 20 {
                stream += [UInt8](repeating: 0x41, count: Int(header.size))
                stream += [UInt8](repeating: 0, count: TarHeader.padding(header.size))
            }
        }
        stream += TarHeader.endOfArchive
        var entries: [TarEntry] = []
        var parser = TarStreamParser { entries.append($0) }
        // Feed in odd-sized chunks to exercise the state machine's boundaries.
        var offset = 0
        while offset < stream.count {
            let end = min(offset + 333, stream.count)
            try stream[offset..<end].withUnsafeBytes { try parser.feed($0) }
            offset = end
        }
        try parser.finish()
        #expect(parser.finished)
        return entries
    }

    @Test("names of every length survive: ustar name, ustar prefix, pax path", arguments: [10, 100, 101, 200, 255, 300, 1000])
    func longNames(_ length: Int) throws {
        let name = (0..<(length / 50 + 1)).map { _ in String(repeating: "n", count: 49) }.joined(separator: "/")
        let path = String(name.prefix(length)).trimmingSuffix("/")
        let entries = try roundTrip([TarHeader(path: path, kind: .regular, mode: 0o644, size: 3)])
        #expect(entries.map(\.header.path) == [path])
        #expect(entries[0].header.size == 3)
    }

    @Test("a link target over 100 bytes goes into a pax record")
    func longLink() throws {
        let target = "/" + String(repeating: "t", count: 150)
        let encoded = try TarHeader(path: "l", kind: .symlink, mode: 0o777, linkTarget: target).encode()
        #expect(encoded.count == 3 * 512)  // pax header, its records, the entry
        #expect(try roundTrip([TarHeader(path: "l", kind: .symlink, mode: 0o777, linkTarget: target)])[0].header.linkTarget == target)
    }

    @Test("a file of 8 GiB or more records its size in pax")
    func hugeSize() throws {
        let size: Int64 = 8 << 30
        let encoded = try TarHeader(path: "big", kind: .regular, mode: 0o644, size: size).encode()
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.contains("size=8589934592\n"))
        var seen: [TarEntry] = []
        var parser = TarStreamParser { seen.append($0) }
        try encoded.withUnsafeBytes { try parser.feed($0) }
        #expect(seen.first?.header.size == size)
    }

    @Test("setuid, setgid and sticky bits and large ids are kept")
    func modesAndIds() throws {
        let headers = [
            TarHeader(path: "a", kind: .regular, mode: 0o4755),
            TarHeader(path: "b", kind: .directory, mode: 0o2775),
            TarHeader(path: "c", kind: .directory, mode: 0o1777, uid: 3_000_000, gid: 65534),
        ]
        let back = try roundTrip(headers)
        #expect(back.map(\.header.mode) == [0o4755, 0o2775, 0o1777])
        #expect(back[2].header.uid == 3_000_000)
        #expect(back[2].header.gid == 65534)
        #expect(back[1].rawPath == "b/")
    }

    @Test("headers carry no user names, no atime, and a fixed mtime")
    func deterministic() throws {
        let a = try TarHeader(path: "x", kind: .regular, mode: 0o644, size: 1, mtime: 1_700_000_000).encode()
        let b = try TarHeader(path: "x", kind: .regular, mode: 0o644, size: 1, mtime: 1_700_000_000).encode()
        #expect(a == b)
        #expect(a[265..<329].allSatisfy { $0 == 0 })  // uname and gname empty
        #expect(String(decoding: a[257..<263], as: UTF8.self) == "ustar\0")
    }

    @Test("a corrupted header is reported with its offset")
    func badChecksum() throws {
        var bytes = try TarHeader(path: "x", kind: .regular, mode: 0o644).encode()
        bytes[0] = 0x79
        var parser = TarStreamParser { _ in }
        #expect { try bytes.withUnsafeBytes { try parser.feed($0) } } throws: {
            "\($0)" == "tar stream, byte 0: header checksum mismatch (not a tar stream?)"
        }
    }

    @Test("a stream cut inside an entry is truncated")
    func truncated() throws {
        var bytes = try TarHeader(path: "x", kind: .regular, mode: 0o644, size: 1000).encode()
        bytes += [UInt8](repeating: 1, count: 100)
        var parser = TarStreamParser { _ in }
        try bytes.withUnsafeBytes { try parser.feed($0) }
        #expect { try parser.finish() } throws: { "\($0)".contains("truncated") }
    }

    @Test("empty paths and NUL bytes cannot be encoded")
    func unrepresentable() {
        #expect(throws: OCIError.self) { try TarHeader(path: "", kind: .regular, mode: 0o644).encode() }
        #expect(throws: OCIError.self) { try TarHeader(path: "a\0b", kind: .regular, mode: 0o644).encode() }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
