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

    @Test("IMAGEGEN_INFLATE=isal and =zlib pack and verify a wheel to the same digests; a bad value fails in one line")
    func inflateLibraries() throws {
        let scratch = try ScratchDirectory("imagegen-pack-inflate")
        // A wheel with RECORD hashes, one large incompressible member (a stream carried as it
        // is, inflated for the diff_id) and small ones (inflated and deflated again).
        let wheel = scratch("demo-1.0-py3-none-any.whl")
        let make = """
            import base64, hashlib, random, sys, zipfile
            random.seed(7)
            files = {'demo/blob.bin': bytes(random.getrandbits(8) for _ in range(300000)),
                     'demo/__init__.py': b'x = 1\\n' * 4000,
                     'demo-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n',
                     'demo-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}
            record = ''.join('%s,sha256=%s,%d\\n' % (n, base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode(), len(b))
                             for n, b in files.items()) + 'demo-1.0.dist-info/RECORD,,\\n'
            with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
                for n, b in files.items(): z.writestr(n, b)
                z.writestr('demo-1.0.dist-info/RECORD', record)
            """
        let made = try run("python3", ["-c", make, wheel])
        #expect(made.status == 0, "\(made.stderr)")
        var digests: [String: String] = [:]
        for library in ["isal", "zlib"] {
            let environment = ["IMAGEGEN_INFLATE": library, "SOURCE_DATE_EPOCH": "0"]
            // The dynamic loader's trace: ISA-L is loaded with `isal`, never with `zlib`.
            let packed = try imagegen(
                ["pack", wheel, "--out", scratch(library), "--tag", "demo", "--json"], environment: environment.merging(["LD_DEBUG": "files"]) { $1 })
            #expect(packed.status == 0, "\(packed.stderr)")
            #expect(packed.stderr.contains("file=libisal.so.2") == (library == "isal"), "\(library)")
            let document = try JSONSerialization.jsonObject(with: Data(packed.stdout.utf8)) as? [String: Any]
            digests[library] = (document?["manifest"] as? [String: Any])?["digest"] as? String
            let verified = try imagegen(["verify", scratch(library)], environment: environment)
            #expect(verified.status == 0, "\(verified.stderr)")
        }
        #expect(digests["isal"] == digests["zlib"])
        #expect(digests["isal"]?.hasPrefix("sha256:") == true)
        let bad = try imagegen(["pack", wheel, "--out", scratch("bad"), "--tag", "demo"], environment: ["IMAGEGEN_INFLATE": "fast"])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasSuffix("IMAGEGEN_INFLATE='fast': expected auto, isal or zlib\n"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: scratch("bad/index.json")))
        // verify says why it cannot inflate, not that the blob it then did not read mismatches.
        let unverified = try imagegen(["verify", scratch("zlib")], environment: ["IMAGEGEN_INFLATE": "fast"])
        #expect(unverified.status == 1)
        #expect(unverified.stderr.contains("IMAGEGEN_INFLATE='fast': expected auto, isal or zlib"), "\(unverified.stderr)")
        #expect(!unverified.stderr.contains("digest mismatch"), "\(unverified.stderr)")
    }

    @Test("a tar.gz input packs to the plain tar's layer, inflated by ISA-L or zlib as IMAGEGEN_INFLATE says")
    func gzipInput() throws {
        let scratch = try ScratchDirectory("imagegen-pack-targz")
        try writeFile(scratch("src/bin/tool"), "#!/bin/sh\necho tool\n", mode: 0o755)
        try writeFile(scratch("src/share/data.txt"), String(repeating: "data line\n", count: 20_000))
        #expect(try run("tar", ["-cf", scratch("in.tar"), "-C", scratch("src"), "."]).status == 0)
        #expect(try run("sh", ["-c", "gzip -9 -c in.tar > in.tar.gz"], directory: scratch.path).status == 0)

        func manifest(_ input: String, _ environment: [String: String]) throws -> (String?, ProcessResult) {
            let out = scratch("out-\(UUID().uuidString)")
            let packed = try imagegen(
                [ "pack", scratch(input), "--out", out, "--tag", "demo", "--json"], environment: environment.merging(["SOURCE_DATE_EPOCH": "0"]) { $1 })
            let document = try? JSONSerialization.jsonObject(with: Data(packed.stdout.utf8)) as? [String: Any]
            return ((document?["manifest"] as? [String: Any])?["digest"] as? String, packed)
        }
        let (plain, plainRun) = try manifest("in.tar", [:])
        #expect(plainRun.status == 0, "\(plainRun.stderr)")
        #expect(plain?.hasPrefix("sha256:") == true)
        for library in ["isal", "zlib"] {
            let (digest, packed) = try manifest("in.tar.gz", ["IMAGEGEN_INFLATE": library, "LD_DEBUG": "files"])
            #expect(packed.status == 0, "\(packed.stderr)")
            #expect(digest == plain, "\(library)")
            #expect(packed.stderr.contains("file=libisal.so.2") == (library == "isal"), "\(library)")
        }
    }
}
