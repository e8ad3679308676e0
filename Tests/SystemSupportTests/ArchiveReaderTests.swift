import Foundation
import Glibc
import SystemSupport
import Testing

/// Runs a Python script (fixtures are made with `tarfile` and `zipfile`) in `directory`.
private func python(_ script: String, in directory: String) throws {
    _ = try Subprocess("python3", ["-c", script], directory: directory).checkedOutput()
}

/// Every entry of an archive with its contents (read whole).
private func entries(_ reader: ArchiveReader) throws -> [(ArchiveReader.Entry, [UInt8])] {
    var found: [(ArchiveReader.Entry, [UInt8])] = []
    while let entry = try reader.next() { found.append((entry, try #require(try reader.readAll(limit: 1 << 20)))) }
    return found
}

@Suite("ArchiveReader")
struct ArchiveReaderTests {
    @Test("a tar's entries: kinds, modes, owners, link targets, contents")
    func tar() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            try python("""
                import io, tarfile
                def add(t, name, kind, mode=0o644, data=b"", target="", uid=0):
                    i = tarfile.TarInfo(name); i.type, i.mode, i.linkname, i.uid, i.gid = kind, mode, target, uid, uid + 1
                    if kind == tarfile.CHRTYPE: i.devmajor, i.devminor = 1, 3
                    i.size = len(data); t.addfile(i, io.BytesIO(data))
                with tarfile.open("t.tar.gz", "w:gz", format=tarfile.GNU_FORMAT) as t:
                    add(t, "./", tarfile.DIRTYPE, 0o755)
                    add(t, "./bin/tool", tarfile.REGTYPE, 0o4755, b"hello", uid=7)
                    add(t, "./bin/link", tarfile.SYMTYPE, 0o777, target="../lib/x")
                    add(t, "./bin/hard", tarfile.LNKTYPE, target="./bin/tool")
                    add(t, "./fifo", tarfile.FIFOTYPE)
                    add(t, "./null", tarfile.CHRTYPE)
                """, in: scratch.path)
            let reader = try ArchiveReader(.file(scratch.appending("t.tar.gz")), format: .tar, name: "t.tar.gz")
            let found = try entries(reader)
            #expect(found.map(\.0.name) == ["./", "./bin/tool", "./bin/link", "./bin/hard", "./fifo", "./null"])
            #expect(found.map(\.0.kind) == [.directory, .regular, .symlink, .hardlink, .fifo, .characterDevice])
            let tool = found[1].0
            #expect(tool.permissions == 0o4755 && tool.mode == 0o104755 && tool.uid == 7 && tool.gid == 8 && tool.size == 5)
            #expect(found[1].1 == Array("hello".utf8))
            #expect(found[2].0.linkTarget == "../lib/x" && found[3].0.linkTarget == "./bin/tool")
            #expect(found[5].0.device == 1 << 8 | 3)  // glibc's makedev(1, 3)
        }
    }

    @Test("a sparse file reads as its blocks, and whole with its holes (a trailing one included) as zeros")
    func sparse() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            // 1 MiB: "x" at 256 KiB, the rest holes.
            let script = "truncate -s 1M f && printf x | dd of=f bs=1 seek=262144 conv=notrunc 2>/dev/null && tar --sparse -cf s.tar f"
            _ = try Subprocess("/bin/sh", ["-c", script], directory: scratch.path).checkedOutput()
            let reader = try ArchiveReader(.file(scratch.appending("s.tar")), format: .tar, name: "s.tar")
            #expect(try reader.next()?.size == 1 << 20)
            var blocks: [(Int64, [UInt8])] = []
            try reader.readBlocks { block, offset in if !block.isEmpty { blocks.append((offset, Array(block))) } }
            // GNU tar stores the data around the "x" in 512-byte pieces.
            #expect(blocks.count == 1 && blocks.first?.0 == 262_144 && blocks.first?.1.first == UInt8(ascii: "x"))

            let again = try ArchiveReader(.file(scratch.appending("s.tar")), format: .tar, name: "s.tar")
            _ = try again.next()
            var expected = [UInt8](repeating: 0, count: 1 << 20)
            expected[262_144] = UInt8(ascii: "x")
            #expect(try again.readAll(limit: 1 << 20) == expected)
            let small = try ArchiveReader(.file(scratch.appending("s.tar")), format: .tar, name: "s.tar")
            _ = try small.next()
            #expect(try small.readAll(limit: (1 << 20) - 1) == nil)
        }
    }

    @Test("a zip through its central directory: unix modes, CRC-checked contents")
    func zip() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            try python("""
                import zipfile
                with zipfile.ZipFile("w.zip", "w", zipfile.ZIP_DEFLATED) as z:
                    i = zipfile.ZipInfo("pkg/mod.py"); i.external_attr = 0o100755 << 16; z.writestr(i, "print(1)\\n" * 100)
                    i = zipfile.ZipInfo("pkg/METADATA"); i.external_attr = 0o644 << 16; z.writestr(i, "Name: x\\n")
                """, in: scratch.path)
            let reader = try ArchiveReader(.file(scratch.appending("w.zip")), format: .zip, name: "w.zip")
            let found = try entries(reader)
            #expect(found.map(\.0.name) == ["pkg/mod.py", "pkg/METADATA"])
            #expect(found[0].0.mode == 0o100755 && found[0].0.kind == .regular && found[0].1.count == 900)
            #expect(found[1].0.permissions == 0o644 && found[1].1 == Array("Name: x\n".utf8))
        }
    }

    @Test("a range of an open file: a tar inside other bytes")
    func range() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            try python("""
                import io, tarfile
                with tarfile.open("t.tar.xz", "w:xz") as t:
                    i = tarfile.TarInfo("./a"); i.size = 3; t.addfile(i, io.BytesIO(b"abc"))
                data = open("t.tar.xz", "rb").read()
                open("outer", "wb").write(b"H" * 1000 + data + b"T" * 1000)
                """, in: scratch.path)
            let length = try #require(try FileManager.default.attributesOfItem(atPath: scratch.appending("t.tar.xz"))[.size] as? Int)
            let fd = open(scratch.appending("outer"), O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0)
            defer { close(fd) }
            let reader = try ArchiveReader(.range(descriptor: fd, offset: 1000, size: Int64(length)), format: .tar, name: "outer")
            let found = try entries(reader)
            #expect(found.map(\.0.name) == ["./a"] && found.first?.1 == Array("abc".utf8))
            // The same range read raw: the decompressed tar, one entry.
            let raw = try ArchiveReader(.range(descriptor: fd, offset: 1000, size: Int64(length)), format: .raw, name: "outer")
            #expect(try raw.next() != nil)
            #expect(try raw.readAll(limit: 1 << 20)?.count == 10240)
        }
    }

    @Test("names that are not UTF-8: refused, or repaired; a pax header's UTF-8 name is read either way")
    func names() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            try python("""
                import io, tarfile
                for name, fmt, enc in [("latin.tar", tarfile.GNU_FORMAT, "latin-1"), ("pax.tar", tarfile.PAX_FORMAT, "utf-8")]:
                    with tarfile.open(name, "w", format=fmt, encoding=enc) as t:
                        i = tarfile.TarInfo("caf\\u00e9"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
                """, in: scratch.path)
            let refusing = try ArchiveReader(.file(scratch.appending("latin.tar")), name: "latin.tar")
            let error = #expect(throws: ArchiveReaderError.self) { try refusing.next() }
            #expect(error?.description == "latin.tar: an entry name is not valid UTF-8")
            let repairing = try ArchiveReader(.file(scratch.appending("latin.tar")), invalidNames: .repair, name: "latin.tar")
            #expect(try repairing.next()?.name == "caf\u{FFFD}")
            for invalidNames in [ArchiveReader.InvalidNames.refuse, .repair] {
                let pax = try ArchiveReader(.file(scratch.appending("pax.tar")), invalidNames: invalidNames, name: "pax.tar")
                #expect(try pax.next()?.name == "café")
            }
        }
    }

    @Test("what is not an archive gets libarchive's reason, named")
    func notAnArchive() throws {
        try ScratchDirectory.with(purpose: "archive-reader") { scratch in
            #expect(FileManager.default.createFile(atPath: scratch.appending("x"), contents: Data("not an archive".utf8)))
            let error = #expect(throws: ArchiveReaderError.self) {
                let reader = try ArchiveReader(.file(scratch.appending("x")), format: .tar, name: "x.tar")
                _ = try reader.next()
            }
            #expect(error?.archive == "x.tar" && error?.description.hasPrefix("x.tar: ") == true)
        }
    }
}
