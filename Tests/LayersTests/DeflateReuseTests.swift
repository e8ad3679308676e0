import Foundation
import Layers
import OCI
import TestSupport
import Testing

/// Gzip layers that carry a zip's deflate streams as they are (`ReusingGzipSink`): the same
/// tar as the plain path, read by every gzip reader, identical at any thread count, and
/// refused with the member named when the zip's directory does not match its streams.
@Suite("Reused deflate streams")
struct DeflateReuseTests {
    /// A zip fixture in `scratch` and its entries.
    func fixture(_ scratch: ScratchDirectory) throws -> (zip: String, entries: [LayerEntry]) {
        let zip = scratch("fixture.whl")
        try ZipFixture.make(at: zip)
        return (zip, try ZipEntries.entries(zip: zip, mtime: 1_700_000_000))
    }

    /// Packs `entries` into a fresh layout; returns the layer and its blob's path.
    func pack(
        _ entries: [LayerEntry], _ scratch: ScratchDirectory, compression: Compression = .gzip, threads: Int = 2, reuse: Bool = true
    ) throws -> (PackedLayer, String) {
        let path = scratch("layout-\(UUID().uuidString)")
        let layout = try LayoutWriter(path: path)
        let layer = try LayerPacker.pack(entries, into: layout, compression: compression, threads: threads, reuseDeflateStreams: reuse)
        return (layer, "\(path)/blobs/sha256/\(layer.descriptor.digest.encoded)")
    }

    @Test("reused and recompressed layers hold the same tar; the reused one carries the big streams as they are")
    func sameTar() throws {
        let scratch = try ScratchDirectory()
        let (zip, entries) = try fixture(scratch)
        let (reused, reusedBlob) = try pack(entries, scratch)
        let (plain, plainBlob) = try pack(entries, scratch, reuse: false)
        let (zstd, _) = try pack(entries, scratch, compression: .zstd)
        #expect(reused.diffID == plain.diffID)
        #expect(reused.diffID == zstd.diffID)
        #expect(reused.descriptor.digest != plain.descriptor.digest)
        // Six streams of at least 16 KiB are carried; each sits between two deflated runs.
        let carried = try gzipMembers(reusedBlob, carrying: "pkg/level9.txt", of: zip)
        #expect(carried.members == 13)
        #expect(carried.carried)
        let recompressed = try gzipMembers(plainBlob, carrying: "pkg/level9.txt", of: zip)
        #expect(recompressed.members == 1)
        // Level 1 is carried as it is too, so the reused layer is a little larger here.
        #expect(Double(reused.descriptor.size) <= Double(plain.descriptor.size) * 1.10)
    }

    @Test("the reused layer's bytes do not depend on the thread count")
    func threadIndependent() throws {
        let scratch = try ScratchDirectory()
        let (_, entries) = try fixture(scratch)
        let digests = try [1, 2, 5].map { try pack(entries, scratch, threads: $0).0.descriptor.digest }
        #expect(Set(digests).count == 1)
    }

    @Test("gzip, pigz and Python's gzip module decompress the reused layer to the diff_id's tar", arguments: [
        ["gzip", "-dc"],
        ["pigz", "-dc"],
        ["python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1],'rb').read()))"],
    ])
    func decompressors(_ command: [String]) throws {
        let scratch = try ScratchDirectory()
        let (_, entries) = try fixture(scratch)
        let (layer, blob) = try pack(entries, scratch)
        let result = try run("sh", ["-c", "\"$@\" | sha256sum", "sh"] + command + [blob])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix(layer.diffID.encoded))
    }

    @Test("libarchive unpacks the reused layer into the zip's files, byte for byte, with modes and the symlink")
    func libarchive() throws {
        let scratch = try ScratchDirectory()
        let (zip, entries) = try fixture(scratch)
        let (_, blob) = try pack(entries, scratch)
        try FileManager.default.createDirectory(atPath: scratch("unpacked"), withIntermediateDirectories: true)
        try ArchiveExtractor(path: blob).extract(into: scratch("unpacked"))
        #expect(try ZipFixture.listing(ofTree: scratch("unpacked")) == ZipFixture.listing(of: zip))
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch("unpacked/pkg/tool.sh"))
        #expect((attributes[.posixPermissions] as? Int) == 0o755)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch("unpacked/pkg/link.txt")) == "level6.txt")
    }

    /// The fixture with the central directory's CRC-32 (or sizes) of `pkg/level6.txt` changed.
    func damaged(_ scratch: ScratchDirectory, field: String) throws -> String {
        let zip = scratch("damaged.whl")
        try ZipFixture.make(at: zip)
        let code = """
            import struct, sys
            data = bytearray(open(sys.argv[1], 'rb').read())
            name = b'pkg/level6.txt'
            at = data.rfind(b'PK\\x01\\x02', 0, data.rfind(name))
            off = {'crc': 16, 'size': 24}[sys.argv[2]]
            value = struct.unpack_from('<I', data, at + off)[0]
            struct.pack_into('<I', data, at + off, value ^ 1)
            open(sys.argv[1], 'wb').write(data)
            """
        let result = try run("python3", ["-c", code, zip, field])
        guard result.status == 0 else { throw FixtureError(message: result.stderr) }
        return zip
    }

    @Test("a stream whose CRC-32 or size differs from the zip directory's is an error naming the zip and member", arguments: [
        ("crc", "CRC-32"), ("size", "bytes"),
    ])
    func mismatch(_ field: String, _ words: String) throws {
        let scratch = try ScratchDirectory()
        let zip = try damaged(scratch, field: field)
        let entries = try ZipEntries.entries(zip: zip, mtime: 0)
        for reuse in [true, false] {
            let error = #expect(throws: LayerError.self) { try pack(entries, scratch, reuse: reuse) }
            let message = "\(error.map { "\($0)" } ?? "")"
            #expect(message.contains("damaged.whl: pkg/level6.txt"), "\(message)")
            #expect(message.contains(words), "\(message)")
        }
    }

    @Test("a file that is not a zip is refused with the reason")
    func notAZip() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("plain.txt"), "hello\n")
        #expect(!ZipEntries.isZip(scratch("plain.txt")))
        let error = #expect(throws: LayerError.self) { try ZipDirectory(path: scratch("plain.txt")) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("no end of central directory record"))
    }
}
