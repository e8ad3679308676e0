import Foundation
import Layers
import OCI
import Synchronization
import TestSupport
import Testing

@Suite("Layer progress")
struct LayerProgressTests {
    @Test("the tar's length is known to the byte before it is written: long names, links, empty and padded files")
    func exactSize() throws {
        let long = String(repeating: "d", count: 120)
        let entries: [LayerEntry] = [
            .directory("./\(long)"),
            .file("\(long)/\(String(repeating: "f", count: 150))", bytes: Array(repeating: 7, count: 1000)),
            .file("a/empty", bytes: []),
            .directory("a"),
            .file("a/block", bytes: Array(repeating: 1, count: 512)),
            .hardlink("a/link", target: "a/block"),
            .symlink("a/sym", target: String(repeating: "t", count: 300)),
        ]
        let tar = MemorySink()
        try LayerWriter.write(entries, to: tar)
        #expect(try LayerWriter.size(of: entries) == Int64(tar.bytes.count))
    }

    @Test("packing reports the tar's bytes written, rising to its exact length, the layer's uncompressed size")
    func packProgress() throws {
        let scratch = try ScratchDirectory()
        let tree = scratch("tree")
        try makeFixtureTree(at: tree)
        let entries = try DirectoryTree.entries(root: tree, mtime: 1_700_000_000)
        let total = try LayerWriter.size(of: entries)
        let reports = Mutex<[Int64]>([])
        let layer = try LayerPacker.pack(
            entries, into: try LayoutWriter(path: scratch("layout")), compression: .gzip, threads: 2
        ) { done in reports.withLock { $0.append(done) } }
        let seen = reports.withLock { $0 }
        #expect(total == layer.uncompressedSize)
        #expect(seen.last == total)
        #expect(seen == seen.sorted())
    }
}
