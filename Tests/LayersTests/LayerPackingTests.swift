import Foundation
import Layers
import OCI
import TestSupport
import Testing

import Glibc

/// Packs the fixture tree once into a fresh layout and returns the layer.
func packFixture(
    compression: Compression, threads: Int = 2, reversed: Bool = false, scratch: ScratchDirectory
) throws -> PackedLayer {
    let tree = scratch("tree-\(UUID().uuidString)")
    try makeFixtureTree(at: tree, reversed: reversed)
    let entries = try DirectoryTree.entries(root: tree, mtime: 1_700_000_000)
    let layout = try LayoutWriter(path: scratch("layout-\(UUID().uuidString)"))
    return try LayerPacker.pack(entries, into: layout, compression: compression, threads: threads)
}

@Suite("Deterministic layers")
struct LayerPackingTests {
    // Golden digests of the fixture tree (TestSupport.makeFixtureTree, mtime 1700000000).
    // They change only if the tar encoding, the gzip framing or the zstd settings change
    // (or a new zlib/libzstd compresses differently): review such a change on purpose.
    static let goldenDiffID = "sha256:d6ed12969f9bbcd824ea16e76c15bf17976088135900633214dfaa7e790a7185"
    static let goldenGzip = "sha256:aa3ece8ecefcf7d18f5cfee077dcb177c27e40151e565d2a7f3fdee6da1e3bec"
    static let goldenZstd = "sha256:b64a8b6e8d5bf80764143f1e516db11f1e335f3378f5ef8280731d96f618fe93"

    @Test("the fixture tree packs to the golden diff_id and blob digests (gzip and zstd)")
    func golden() throws {
        let scratch = try ScratchDirectory()
        let gzip = try packFixture(compression: .gzip, scratch: scratch)
        let zstd = try packFixture(compression: .zstd, scratch: scratch)
        #expect(gzip.diffID == zstd.diffID)
        #expect(gzip.diffID.description == Self.goldenDiffID)
        #expect(gzip.descriptor.digest.description == Self.goldenGzip)
        #expect(zstd.descriptor.digest.description == Self.goldenZstd)
        #expect(gzip.descriptor.mediaType == .layerTarGzip)
        #expect(zstd.descriptor.mediaType == .layerTarZstd)
    }

    /// The umask and TZ are process-wide: changing them here would leak into tests running
    /// beside this one, so CLITests checks them in a child process (`imagegen pack` under
    /// `umask 077` and another TZ).
    @Test("thread count and creation order do not change the bytes", arguments: [
        LayerCompressionKind.gzip, .zstd, .none,
    ])
    func independentOfEnvironment(_ kind: LayerCompressionKind) throws {
        let scratch = try ScratchDirectory()
        let compression = try Compression(kind)
        let first = try packFixture(compression: compression, threads: 1, scratch: scratch)
        let second = try packFixture(compression: compression, threads: 4, reversed: true, scratch: scratch)
        #expect(first == second)
    }

    @Test("a layer bigger than many compression blocks is the same at 1, 2 and 3 threads")
    func manyBlocks() throws {
        let scratch = try ScratchDirectory()
        // 5.5 MiB of mixed compressible and incompressible data: several 1 MiB gzip blocks.
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Array(String(repeating: "torch.compile works\n", count: 130_000).utf8)
        let entries = [LayerEntry.file("noise", bytes: noise), .file("text", bytes: text)]
        let digests = try [1, 2, 3].map { threads -> Digest in
            let layout = try LayoutWriter(path: scratch("l\(threads)"))
            return try LayerPacker.pack(entries, into: layout, compression: .gzip, threads: threads).descriptor.digest
        }
        #expect(Set(digests).count == 1)
    }

    @Test("the gzip and zstd blobs decompress, with independent tools, to the tar whose digest is the diff_id", arguments: [
        (LayerCompressionKind.gzip, ["gzip", "-dc"]),
        (.gzip, ["pigz", "-dc"]),
        (.gzip, ["python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1],'rb').read()))"]),
        (.zstd, ["zstd", "-dc"]),
    ])
    func independentDecompressors(_ kind: LayerCompressionKind, _ command: [String]) throws {
        let scratch = try ScratchDirectory()
        let layer = try packFixture(compression: try Compression(kind), scratch: scratch)
        let blob = try #require(
            FileManager.default.enumerator(atPath: scratch.path)?.compactMap { $0 as? String }
                .first { $0.hasSuffix(layer.descriptor.digest.encoded) })
        let result = try run("sh", ["-c", "\"$@\" | sha256sum", "sh"] + command + [scratch(blob)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix(layer.diffID.encoded))
    }

    @Test("libarchive unpacks our gzip and zstd layers into the original tree", arguments: [LayerCompressionKind.gzip, .zstd])
    func libarchiveReadsLayers(_ kind: LayerCompressionKind) throws {
        let scratch = try ScratchDirectory()
        let layer = try packFixture(compression: try Compression(kind), scratch: scratch)
        let blob = try #require(
            FileManager.default.enumerator(atPath: scratch.path)?.compactMap { $0 as? String }
                .first { $0.hasSuffix(layer.descriptor.digest.encoded) })
        try FileManager.default.createDirectory(atPath: scratch("unpacked"), withIntermediateDirectories: true)
        try ArchiveExtractor(path: scratch(blob)).extract(into: scratch("unpacked"))
        try makeFixtureTree(at: scratch("reference"))
        let expected = try DirectoryTree.entries(root: scratch("reference"), mtime: 0).map(\.header)
        #expect(try DirectoryTree.entries(root: scratch("unpacked"), mtime: 0).map(\.header) == expected)
        #expect(
            FileManager.default.contents(atPath: scratch("unpacked/usr/share/data.bin"))
                == FileManager.default.contents(atPath: scratch("reference/usr/share/data.bin")))
    }

    @Test("GNU tar lists every entry with its type, mode and link target")
    func gnuTarListing() throws {
        let scratch = try ScratchDirectory()
        let layer = try packFixture(compression: .gzip, scratch: scratch)
        let blob = try #require(
            FileManager.default.enumerator(atPath: scratch.path)?.compactMap { $0 as? String }
                .first { $0.hasSuffix(layer.descriptor.digest.encoded) })
        // TZ is set explicitly: another test changes the process's TZ while tests run in parallel.
        let listing = try run("tar", ["--numeric-owner", "-tvzf", scratch(blob)], environment: ["TZ": "UTC"])
        #expect(listing.status == 0, "\(listing.stderr)")
        let lines = listing.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == layer.entryCount)
        #expect(lines.contains { $0.hasPrefix("-rwsr-xr-x 0/0") && $0.hasSuffix("usr/bin/tool") })
        #expect(lines.contains { $0.hasPrefix("drwxrwxrwt 0/0") && $0.hasSuffix("tmp/") })
        #expect(lines.contains { $0.hasPrefix("hrw-r--r--") && $0.contains("usr/share/data.bin link to usr/share/data-hardlink.bin") })
        #expect(lines.contains { $0.hasSuffix("tool-link -> tool") })
        #expect(lines.contains { $0.hasSuffix("/" + String(repeating: "f", count: 150)) })
        #expect(lines.allSatisfy { $0.contains(" 2023-11-14 22:13 ") })
    }
}

@Suite("Layer writer: bad entries")
struct LayerWriterErrorTests {
    @Test("bad entries are refused with the path and the reason", arguments: [
        ([LayerEntry.file("a", bytes: [1]), .file("./a", bytes: [2])], "a: appears twice in one layer"),
        ([LayerEntry.file("../etc/passwd", bytes: [1])], "../etc/passwd: '..' is not allowed in a layer path"),
        ([LayerEntry.hardlink("b", target: "missing")], "b: hard link to 'missing', which is not a regular file earlier in this layer"),
        ([LayerEntry(header: TarHeader(path: "c", kind: .regular, mode: 0o644, size: 5))], "c: has size 5 but no content"),
    ])
    func refused(_ entries: [LayerEntry], _ message: String) {
        #expect { try LayerWriter.write(entries, to: NullSink()) } throws: { "\($0)" == message }
    }

    @Test("a file that shrank or grew since it was scanned is an error, not a corrupt layer")
    func changedFile() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("f"), "12345")
        let entries = [LayerEntry(header: TarHeader(path: "f", kind: .regular, mode: 0o644, size: 3), content: .file(path: scratch("f")))]
        #expect { try LayerWriter.write(entries, to: NullSink()) } throws: {
            "\($0)" == "f: changed while packing (expected 3 bytes, read 4)"
        }
    }

    @Test("whiteouts are named as the OCI spec says")
    func whiteouts() {
        #expect(LayerEntry.whiteout("usr/lib/old.so").header.path == "usr/lib/.wh.old.so")
        #expect(LayerEntry.opaqueWhiteout("var/cache").header.path == "var/cache/.wh..wh..opq")
    }
}

@Suite("Decompression")
struct LayerDecoderTests {
    func decode(_ kind: LayerCompressionKind, _ bytes: [UInt8], chunk: Int = 1000, ignoringTrailingBytes: Bool = false) throws -> [UInt8] {
        var out: [UInt8] = []
        let decoder = try LayerDecoder(kind: kind) { out += $0 }
        decoder.ignoresTrailingBytes = ignoringTrailingBytes
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            try bytes[start..<min(start + chunk, bytes.count)].withUnsafeBytes { try decoder.feed($0) }
        }
        try decoder.finish()
        return out
    }

    func compress(_ kind: LayerCompressionKind, _ bytes: [UInt8]) throws -> [UInt8] {
        let sink = MemorySink()
        let compressor: any ByteSink = kind == .gzip
            ? GzipCompressor(level: 6, threads: 2, output: sink) : try ZstdCompressor(level: 3, threads: 2, output: sink)
        try bytes.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        return sink.bytes
    }

    @Test("several gzip members (and zstd frames) back to back decode to their concatenation", arguments: [
        LayerCompressionKind.gzip, .zstd,
    ])
    func multiMember(_ kind: LayerCompressionKind) throws {
        let a = Array(String(repeating: "alpha ", count: 100_000).utf8)
        let b = Array("beta".utf8)
        let joined = try compress(kind, a) + compress(kind, []) + compress(kind, b)
        #expect(try decode(kind, joined) == a + b)
        #expect(try decode(kind, joined, chunk: 7) == a + b)
    }

    @Test("a truncated stream is an error", arguments: [LayerCompressionKind.gzip, .zstd])
    func truncated(_ kind: LayerCompressionKind) throws {
        let full = try compress(kind, Array(String(repeating: "x y z ", count: 10_000).utf8))
        #expect { try decode(kind, Array(full.prefix(full.count / 2))) } throws: { "\($0)".contains("truncated") }
    }

    @Test("bytes after the last gzip member: an error in a layer; ignored where asked (a deb's data.tar.gz) unless they start a member")
    func trailingBytes() throws {
        let text = Array(String(repeating: "abc", count: 1000).utf8)
        let member = try compress(.gzip, text)
        let junk = member + [0, 1, 2, 3] + Array(repeating: 0x1F, count: 5)
        for chunk in [1, 2, 1000] {
            #expect(throws: LayerError.self, "pieces of \(chunk)") { try decode(.gzip, junk, chunk: chunk) }
            #expect(try decode(.gzip, junk, chunk: chunk, ignoringTrailingBytes: true) == text, "pieces of \(chunk)")
            // A second member is still read; a damaged one that starts with the magic is still refused.
            #expect(try decode(.gzip, member + member + [0x0A], chunk: chunk, ignoringTrailingBytes: true) == text + text)
            var damaged = member
            damaged[damaged.count - 6] ^= 0xFF
            #expect(throws: LayerError.self, "pieces of \(chunk)") {
                try decode(.gzip, member + damaged, chunk: chunk, ignoringTrailingBytes: true)
            }
        }
        // A 1f that ends a piece waits for the next byte: a member's magic split across pieces is
        // a member; a stray 1f, alone at the end or before another byte, is ignored.
        let split = member + member
        #expect(try decode(.gzip, split, chunk: member.count + 1, ignoringTrailingBytes: true) == text + text)
        #expect(try decode(.gzip, member + [0x1F], chunk: member.count + 1, ignoringTrailingBytes: true) == text)
        #expect(try decode(.gzip, member + [0x1F, 0x00, 0x01], chunk: member.count + 1, ignoringTrailingBytes: true) == text)
        #expect(throws: LayerError.self) { try decode(.gzip, member + [0x1F], chunk: member.count + 1) }
    }

    @Test("a corrupted gzip stream is an error")
    func corrupted() throws {
        var bytes = try compress(.gzip, Array(String(repeating: "abc", count: 1000).utf8))
        bytes[bytes.count - 6] ^= 0xFF  // inside the CRC-32
        #expect { try decode(.gzip, bytes) } throws: { "\($0)".hasPrefix("gzip: ") }
    }
}

@Suite("Archive inputs (libarchive; gzip inflated by imagegen)")
struct ArchiveExtractorTests {
    @Test("a tar.gz made by GNU tar unpacks with its links and modes")
    func extract() throws {
        let scratch = try ScratchDirectory()
        try makeFixtureTree(at: scratch("src"))
        #expect(try run("tar", ["-czf", scratch("in.tar.gz"), "-C", scratch("src"), "."]).status == 0)
        try FileManager.default.createDirectory(atPath: scratch("out"), withIntermediateDirectories: true)
        let count = try ArchiveExtractor(path: scratch("in.tar.gz")).extract(into: scratch("out"))
        #expect(count > 10)
        let a = try DirectoryTree.entries(root: scratch("src"), mtime: 0).map(\.header)
        let b = try DirectoryTree.entries(root: scratch("out"), mtime: 0).map(\.header)
        #expect(a == b)
    }

    /// gzip inputs are inflated by imagegen (ISA-L when it loads), every member, bytes after the
    /// last one ignored as libarchive ignores them.
    @Test("a tar.gz in two gzip members with bytes after them unpacks as the plain tar does")
    func gzipMembers() throws {
        let scratch = try ScratchDirectory()
        try makeFixtureTree(at: scratch("src"))
        #expect(try run("tar", ["-cf", scratch("in.tar"), "-C", scratch("src"), "."]).status == 0)
        let tar = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch("in.tar"))))
        let half = tar.count / 2
        for (name, part) in [("a", tar[..<half]), ("b", tar[half...])] {
            try writeFile(scratch(name), Array(part))
            #expect(try run("gzip", ["-n", scratch(name)]).status == 0)
        }
        let joined = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch("a.gz"))))
            + [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch("b.gz")))) + [0, 0, 0, 0]
        try writeFile(scratch("in.tar.gz"), joined)
        for input in ["in.tar", "in.tar.gz"] {
            try FileManager.default.createDirectory(atPath: scratch("out-\(input)"), withIntermediateDirectories: true)
            try ArchiveExtractor(path: scratch(input)).extract(into: scratch("out-\(input)"))
        }
        let plain = try DirectoryTree.entries(root: scratch("out-in.tar"), mtime: 0).map(\.header)
        #expect(plain.count > 10)
        #expect(try DirectoryTree.entries(root: scratch("out-in.tar.gz"), mtime: 0).map(\.header) == plain)
    }

    @Test("a truncated or damaged tar.gz is refused, naming the file and what is wrong")
    func damagedGzip() throws {
        let scratch = try ScratchDirectory()
        try makeFixtureTree(at: scratch("src"))
        // Larger than one read of the inflater, so that its end comes after the tar's last entry.
        var state: UInt32 = 1
        try writeFile(scratch("src/noise.bin"), (0..<300_000).map { _ in
            state = state &* 1_103_515_245 &+ 12_345
            return UInt8(truncatingIfNeeded: state >> 16)
        })
        #expect(try run("tar", ["-czf", scratch("in.tar.gz"), "-C", scratch("src"), "."]).status == 0)
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch("in.tar.gz"))))
        var damaged = whole
        damaged[damaged.count - 6] ^= 0xFF  // inside the CRC-32
        try writeFile(scratch("cut.tar.gz"), Array(whole.prefix(whole.count - 20)))
        try writeFile(scratch("short.tar.gz"), Array(whole.prefix(whole.count - 3)))  // the trailer's size cut
        try writeFile(scratch("bad.tar.gz"), damaged)
        for (name, reason) in [
            ("cut.tar.gz", "gzip: unexpected end of stream (truncated)"), ("short.tar.gz", "gzip: unexpected end of stream (truncated)"),
            ("bad.tar.gz", "gzip: incorrect data check"),
        ] {
            try FileManager.default.createDirectory(atPath: scratch("out-\(name)"), withIntermediateDirectories: true)
            #expect { try ArchiveExtractor(path: scratch(name)).extract(into: scratch("out-\(name)")) } throws: {
                "\($0)".hasPrefix(scratch(name) + ": ") && "\($0)".contains(reason)
            }
        }
    }

    @Test("an archive entry that climbs out with '..' is refused")
    func dotDot() throws {
        let scratch = try ScratchDirectory()
        let script = "import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('../escape');i.size=1\nt.addfile(i,io.BytesIO(b'x'))\nt.close()"
        #expect(try run("python3", ["-c", script, scratch("evil.tar")]).status == 0)
        try FileManager.default.createDirectory(atPath: scratch("out"), withIntermediateDirectories: true)
        #expect { try ArchiveExtractor(path: scratch("evil.tar")).extract(into: scratch("out")) } throws: {
            "\($0)" == "\(scratch("evil.tar")): ../escape: '..' is not allowed in a layer path"
        }
        #expect(!FileManager.default.fileExists(atPath: scratch("escape")))
    }

    @Test("a file that is not an archive gets libarchive's reason")
    func notAnArchive() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("x.tar"), "this is not a tar file at all")
        try FileManager.default.createDirectory(atPath: scratch("out"), withIntermediateDirectories: true)
        #expect { try ArchiveExtractor(path: scratch("x.tar")).extract(into: scratch("out")) } throws: {
            "\($0)".hasPrefix(scratch("x.tar") + ": ")
        }
    }
}
