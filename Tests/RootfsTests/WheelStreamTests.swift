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

    /// A wheel with a big member, a small one, a rewritten and a plain script.
    static func mixedWheel(in directory: String, tamper: Set<String> = []) throws -> String {
        var fixture = WheelFixture(name: "bigpkg", version: "1.0", members: [
            .init("bigpkg/__init__.py", "VALUE = 1\n"),
            .init("bigpkg/data.txt", text(40_000, seed: 1)),
            .init("bigpkg-1.0.data/scripts/tool", "#!python\n" + text(30_000, seed: 3), mode: 0o755),
            .init("bigpkg-1.0.data/scripts/plain.sh", "#!/bin/sh\n" + text(30_000, seed: 2), mode: 0o755),
        ])
        fixture.tamper = tamper
        return try fixture.make(in: directory)
    }

    /// The tree's entries with the files that have a stream taking their content from it.
    static func streamed(_ root: String, _ sources: [String: DeflatedSource]) throws -> [LayerEntry] {
        try DirectoryTree.entries(root: root, mtime: 0).map { entry in
            var entry = entry
            if let source = sources[entry.header.path] { entry.content = .deflated(source) }
            return entry
        }
    }

    @Test("placeholders: files of their size with nothing written, the same RECORD; packed from their streams, the tar of a full install")
    func placeholders() throws {
        let scratch = try ScratchDirectory()
        let python = try PythonVersion(parsing: "3.11")
        let wheel = try Self.mixedWheel(in: scratch.path)
        for root in ["full", "placeholders"] { try FileManager.default.createDirectory(atPath: scratch(root), withIntermediateDirectories: true) }
        let installer = WheelInstaller(python: python)
        let full = try installer.install(wheel: wheel, into: scratch("full"))
        let placed = try installer.install(wheel: wheel, into: scratch("placeholders"), placeholders: true)
        let site = "opt/venv/lib/python3.11/site-packages"
        #expect(placed.files == full.files)
        let record = "\(site)/bigpkg-1.0.dist-info/RECORD"
        #expect(FileManager.default.contents(atPath: scratch("placeholders/\(record)")) == FileManager.default.contents(atPath: scratch("full/\(record)")))

        // The big member: its size, no block written, its stream with RECORD's SHA-256.
        let data = "\(site)/bigpkg/data.txt"
        var st = stat()
        #expect(lstat(scratch("placeholders/\(data)"), &st) == 0)
        #expect(Int64(st.st_size) == Int64(Self.text(40_000, seed: 1).utf8.count))
        #expect(st.st_blocks == 0)
        #expect(st.st_mode & 0o777 == 0o644)
        #expect(placed.deflatedSources[data]?.sha256 == Digest.of(Array(Self.text(40_000, seed: 1).utf8)))
        // A script whose first line is rewritten is written out.
        #expect(placed.deflatedSources["opt/venv/bin/tool"] == nil)
        #expect(FileManager.default.contents(atPath: scratch("placeholders/opt/venv/bin/tool")) == FileManager.default.contents(atPath: scratch("full/opt/venv/bin/tool")))
        #expect(Set(placed.deflatedSources.keys) == Set(full.deflatedSources.keys))

        let plain = try LayerPacker.pack(try DirectoryTree.entries(root: scratch("full"), mtime: 0), into: LayoutWriter(path: scratch("plain")), compression: .gzip, threads: 2)
        for compression in [Compression.gzip, .zstd] {
            let layer = try LayerPacker.pack(
                try Self.streamed(scratch("placeholders"), placed.deflatedSources), into: LayoutWriter(path: scratch("out-\(compression)")),
                compression: compression, threads: 2)
            #expect(layer.diffID == plain.diffID, "\(compression)")
        }
    }

    @Test("a member whose bytes differ from its RECORD hash is refused: while installing, or, as a placeholder, when its layer is packed")
    func placeholderRecordChecked() throws {
        let scratch = try ScratchDirectory()
        let python = try PythonVersion(parsing: "3.11")
        let wheel = try Self.mixedWheel(in: scratch.path, tamper: ["bigpkg/data.txt"])
        for root in ["full", "placeholders"] { try FileManager.default.createDirectory(atPath: scratch(root), withIntermediateDirectories: true) }
        let installer = WheelInstaller(python: python)
        #expect { try installer.install(wheel: wheel, into: scratch("full")) } throws: {
            "\($0)".contains("bigpkg/data.txt") && "\($0)".contains("RECORD")
        }
        let placed = try installer.install(wheel: wheel, into: scratch("placeholders"), placeholders: true)
        for (compression, reuse) in [(Compression.gzip, true), (.gzip, false), (.zstd, true)] {
            do {
                _ = try LayerPacker.pack(
                    try Self.streamed(scratch("placeholders"), placed.deflatedSources), into: LayoutWriter(path: scratch("out-\(UUID())")),
                    compression: compression, threads: 2, reuseDeflateStreams: reuse)
                Issue.record("\(compression), reuse \(reuse): packed a member whose bytes differ from its RECORD hash")
            } catch {
                let text = "\(error)"
                #expect(text.contains("bigpkg-1.0-py3-none-any.whl: bigpkg/data.txt") && text.contains("RECORD declares"), "\(compression), reuse \(reuse): \(text)")
            }
        }
    }

    @Test("two wheels that install one file: the same bytes are accepted, other bytes are a conflict, placeholders or not")
    func sharedFiles() throws {
        let scratch = try ScratchDirectory()
        let python = try PythonVersion(parsing: "3.11")
        let shared = Self.text(40_000, seed: 7)
        func wheel(_ name: String, _ bytes: String) throws -> String {
            try WheelFixture(name: name, version: "1.0", members: [.init("nspkg/shared.txt", bytes), .init("\(name)/__init__.py", "")])
                .make(in: scratch("wheels-\(name)"))
        }
        let first = try wheel("one", shared)
        let same = try wheel("two", shared)
        let other = try wheel("three", shared + "changed\n")
        let installer = WheelInstaller(python: python)
        for placeholders in [false, true] {
            let root = scratch("root-\(placeholders)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let installed = try installer.install(wheel: first, into: root, placeholders: placeholders)
            _ = try installer.install(wheel: same, into: root, placeholders: placeholders, streams: installed.deflatedSources)
            #expect(throws: (any Error).self, "placeholders: \(placeholders)") {
                try installer.install(wheel: other, into: root, placeholders: placeholders, streams: installed.deflatedSources)
            }
        }
    }
}
