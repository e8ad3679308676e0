import Foundation
import ImageModel
import Layers
import OCI
import Rootfs
import Testing
import TestSupport

/// The installer reports which installed files are a wheel member's deflate stream, so a gzip
/// layer can carry them as they are; a layer made that way holds the same tar as the tree.
@Suite("Wheel files as deflate streams")
struct WheelStreamTests {
    /// Text that deflates to well over 16 KiB: words drawn by a fixed generator.
    static func text(_ count: Int, seed: UInt64) -> String {
        var state = seed
        var words: [String] = []
        while words.count < count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            words.append(String(state >> 40, radix: 36))
        }
        return words.joined(separator: " ") + "\n"
    }

    @Test("members become streams, a rewritten script does not; the layer's tar equals the tree's")
    func installedStreams() throws {
        let scratch = try ScratchDirectory()
        let python = try PythonVersion(parsing: "3.11")
        let big = Self.text(40_000, seed: 1)
        let wheel = try WheelFixture(name: "bigpkg", version: "1.0", members: [
            .init("bigpkg/__init__.py", "VALUE = 1\n"),
            .init("bigpkg/data.txt", big),
            .init("bigpkg-1.0.data/scripts/tool", "#!python\n" + big, mode: 0o755),
            .init("bigpkg-1.0.data/scripts/plain.sh", "#!/bin/sh\n" + Self.text(30_000, seed: 2), mode: 0o755),
        ]).make(in: scratch.path)
        try FileManager.default.createDirectory(atPath: scratch("root"), withIntermediateDirectories: true)
        let installed = try WheelInstaller(python: python).install(wheel: wheel, into: scratch("root"))
        let site = "opt/venv/lib/python3.11/site-packages"
        #expect(installed.deflatedSources["\(site)/bigpkg/data.txt"] != nil)
        #expect(installed.deflatedSources["\(site)/bigpkg/__init__.py"] != nil)
        #expect(installed.deflatedSources["opt/venv/bin/plain.sh"] != nil)
        #expect(installed.deflatedSources["opt/venv/bin/tool"] == nil, "its #!python line was rewritten")
        #expect(installed.deflatedSources["\(site)/bigpkg-1.0.dist-info/RECORD"] == nil)

        let tree = try DirectoryTree.entries(root: scratch("root"), mtime: 0)
        let streamed = tree.map { entry -> LayerEntry in
            var entry = entry
            if let source = installed.deflatedSources[entry.header.path] { entry.content = .deflated(source) }
            return entry
        }
        let plain = try LayerPacker.pack(tree, into: LayoutWriter(path: scratch("plain")), compression: .gzip, threads: 2)
        let reused = try LayerPacker.pack(streamed, into: LayoutWriter(path: scratch("reused")), compression: .gzip, threads: 2)
        #expect(plain.diffID == reused.diffID)
        #expect(plain.descriptor.digest != reused.descriptor.digest)
        let result = try run("sh", ["-c", "gzip -dc \"$1\" | sha256sum", "sh", scratch("reused/blobs/sha256/\(reused.descriptor.digest.encoded)")])
        #expect(result.stdout.hasPrefix(plain.diffID.encoded))
    }
}
