import Foundation
import TestSupport
import Testing

/// `imagegen pack WHEEL` accepts the wheels of every build back end (``BackendWheelFixture``):
/// members whose modes have no file-type bits, as hatchling and flit write them, are regular files.
@Suite("imagegen pack of wheels from every build back end")
struct PackWheelTests {
    /// The layer's entries, as Python's `tarfile` reads them: "KIND MODE PATH" per entry, sorted.
    static func layerListing(_ layout: String) throws -> [String] {
        let code = """
            import json, sys, tarfile
            root = sys.argv[1]
            def blob(d): return root + '/blobs/' + d.replace(':', '/')
            index = json.load(open(root + '/index.json'))
            manifest = json.load(open(blob(index['manifests'][0]['digest'])))
            with tarfile.open(blob(manifest['layers'][0]['digest']), 'r:gz') as t:
                for m in t.getmembers():
                    kind = 'file' if m.isreg() else 'dir' if m.isdir() else 'other'
                    print('%s %o %s' % (kind, m.mode, m.name))
            """
        let result = try run("python3", ["-c", code, layout])
        guard result.status == 0 else { throw FixtureError(message: "layer listing: \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test("each back end's wheel packs, verifies, and its files keep the zip's permission bits", arguments: BackendWheelFixture.allCases)
    func pack(_ backend: BackendWheelFixture) throws {
        let scratch = try ScratchDirectory("imagegen-pack-wheel")
        let wheel = try backend.make(in: scratch.path)
        let packed = try imagegen(["pack", wheel, "--out", scratch("image"), "--tag", "demo"])
        #expect(packed.status == 0, "\(packed.stderr)")
        let verified = try imagegen(["verify", scratch("image")])
        #expect(verified.status == 0, "\(verified.stderr)")
        let directories = ["demo", "demo-1.0.data", "demo-1.0.data/scripts", "demo-1.0.dist-info"]
            + (backend == .permissionsOnly ? ["demo/empty"] : [])
        let expected = backend.files.map { "file \(String($0.value, radix: 8)) \($0.key)" } + directories.map { "dir 755 \($0)" }
        #expect(try Self.layerListing(scratch("image")) == expected.sorted())
    }
}
