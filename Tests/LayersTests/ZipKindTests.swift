import Foundation
import Layers
import OCI
import TestSupport
import Testing

/// Zip members read as unzip and pip read them: a mode without file-type bits is a regular file
/// (a directory when the name ends in `/`), whichever build back end wrote the wheel.
@Suite("Zip members' kinds and modes")
struct ZipKindTests {
    @Test("the rule: type bits when there are some, else a file, or a directory for a name ending in '/'", arguments: [
        (UInt32?(0o100644), "a.py", ZipDirectory.Kind.file), (0o644, "a.py", .file), (nil, "a.py", .file), (0o755, "bin/tool", .file),
        (0o040755, "pkg/sub", .directory), (0o755, "pkg/sub/", .directory), (nil, "pkg/sub/", .directory), (0o100644, "odd/", .directory),
        (0o120777, "link", .symlink), (0o010644, "fifo", .other(0o010000)), (0o140755, "socket", .other(0o140000)),
    ])
    func rule(_ mode: UInt32?, _ name: String, _ kind: ZipDirectory.Kind) {
        #expect(ZipDirectory.kind(unixMode: mode, name: name) == kind)
    }

    @Test("every back end's wheel becomes entries: regular files with the zip's permission bits", arguments: BackendWheelFixture.allCases)
    func backends(_ backend: BackendWheelFixture) throws {
        let scratch = try ScratchDirectory("imagegen-zip-kinds")
        let wheel = try backend.make(in: scratch.path)
        let entries = try ZipEntries.entries(zip: wheel, mtime: 0)
        let files = entries.filter { $0.header.kind == .regular }
        #expect(Dictionary(uniqueKeysWithValues: files.map { ($0.header.path, $0.header.mode) }) == backend.files)
        let directories = entries.filter { $0.header.kind == .directory }.map(\.header.path).sorted()
        #expect(directories == (["demo", "demo-1.0.data", "demo-1.0.data/scripts", "demo-1.0.dist-info"]
            + (backend == .permissionsOnly ? ["demo/empty"] : [])).sorted())
        #expect(entries.allSatisfy { $0.header.kind != .directory || $0.header.mode == 0o755 })
        #expect(entries.count == files.count + directories.count)
    }

    @Test("a member of a type no zip holds is refused, naming the zip, the member, its mode and what was expected")
    func otherType() throws {
        let scratch = try ScratchDirectory("imagegen-zip-kinds")
        let zip = scratch("fifo.whl")
        let code = """
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], 'w') as z:
                info = zipfile.ZipInfo('pkg/fifo', date_time=(2020, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = 0o010644 << 16
                z.writestr(info, b'')
            """
        let made = try run("python3", ["-c", code, zip])
        try #require(made.status == 0, "\(made.stderr)")
        #expect {
            try ZipEntries.entries(zip: zip, mtime: 0)
        } throws: {
            "\($0)" == "\(zip): pkg/fifo: file type 10000 in its mode 10644 (expected a regular file, 100000 or no type bits; "
                + "a directory, 040000 or a name ending in '/'; or a symlink, 120000)"
        }
    }
}
