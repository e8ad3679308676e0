import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// The bills of materials and the provenance of a built image, checked the way a consumer
/// checks them: by spdx-tools, cyclonedx-python-lib, packageurl-python and in-toto-attestation
/// (scripts/validate-sbom.py, in the venv scripts/install-tools.sh makes), and against the lock.
@Suite("SBOMs and provenance of a built image: valid to the reference libraries, exact to the lock", .timeLimit(.minutes(8)))
struct SupplyChainBuildTests {
    /// The venv's Python (`IMAGEGEN_TOOLS_VENV` or `.tools/venv`).
    static var python: String {
        "\(ProcessInfo.processInfo.environment["IMAGEGEN_TOOLS_VENV"] ?? "\(packageRoot)/.tools/venv")/bin/python"
    }

    /// The provenance at `path` without `runDetails.metadata` (when the build started and finished).
    static func provenanceWithoutRunTimes(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard var statement = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            var predicate = statement["predicate"] as? [String: Any], var run = predicate["runDetails"] as? [String: Any]
        else { throw FixtureError(message: "\(path): not a provenance statement") }
        run["metadata"] = nil
        predicate["runDetails"] = run
        statement["predicate"] = predicate
        return String(decoding: try JSONSerialization.data(withJSONObject: statement, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The CLI's flags for the built `tiny`.
    static func flags(_ built: BuildTests.Built) -> [String] {
        ["--images", built.images, "--cache", built.cache, "--out-directory", built.out]
    }

    @Test("build writes SPDX 2.3, CycloneDX 1.6 and SLSA provenance that the reference libraries accept, naming exactly the lock's debs and wheels")
    func validated() async throws {
        let built = try await BuildTests.Built.shared.value
        let checked = try run(Self.python, [
            "\(packageRoot)/scripts/validate-sbom.py", "--lock", "\(built.images)/tiny.lock.json",
            "--spdx", "\(built.out)/tiny.spdx.json", "--cyclonedx", "\(built.out)/tiny.cdx.json", "--provenance", "\(built.out)/tiny.provenance.json",
        ])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        #expect(checked.stdout.hasPrefix("ok: spdx \(built.lock.debs.count) debs \(built.lock.wheels.count) wheels"), "\(checked.stdout)")
        #expect(built.report.supplyChain == ["spdx.json", "cdx.json", "provenance.json"].map { "\(built.out)/tiny.\($0)" })

        // What a scanner matches on: the distro qualifier, the source package, the license a
        // Debian machine-readable copyright file declares, PEP 503 names.
        let spdx = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(built.out)/tiny.spdx.json"))) as? [String: Any] ?? [:]
        let packages = spdx["packages"] as? [[String: Any]] ?? []
        func package(_ name: String) -> [String: Any]? { packages.first { $0["name"] as? String == name } }
        let zlib = try #require(package("zlib1g"))
        #expect(zlib["licenseDeclared"] as? String == "Zlib")
        #expect((zlib["sourceInfo"] as? String)?.hasPrefix("built from Debian source package zlib ") == true)
        let purls = packages.flatMap { ($0["externalRefs"] as? [[String: Any]] ?? []).compactMap { $0["referenceLocator"] as? String } }
        let zlibDeb = try #require(built.lock.debs.first { $0.name == "zlib1g" })
        #expect(purls.contains("pkg:deb/debian/zlib1g@\(zlibDeb.version)?arch=amd64&distro=debian-12&upstream=zlib"))
        #expect(purls.contains { $0.hasPrefix("pkg:deb/debian/libc6@") && $0.hasSuffix("&upstream=glibc") })
        #expect(purls.contains("pkg:pypi/imagegen-fixture-lib@2.0"))
        #expect(purls.contains { $0.hasPrefix("pkg:oci/tiny@\(built.report.manifest)") })
        // Each package sits in the layer of its component.
        let relationships = spdx["relationships"] as? [[String: Any]] ?? []
        let cudaLayer = try #require(packages.first { ($0["name"] as? String)?.hasSuffix(": cuda") == true }?["SPDXID"] as? String)
        let inCUDA = relationships.filter { $0["spdxElementId"] as? String == cudaLayer && $0["relationshipType"] as? String == "CONTAINS" }
        #expect(inCUDA.count == built.lock.wheels.filter { $0.component == .cuda }.count)

        let provenance = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(built.out)/tiny.provenance.json"))) as? [String: Any] ?? [:]
        let subject = (provenance["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String]
        #expect(subject?["sha256"] == built.report.manifest.encoded)
        let lockBytes = try Data(contentsOf: URL(fileURLWithPath: "\(built.images)/tiny.lock.json"))
        #expect(try String(contentsOfFile: "\(built.out)/tiny.provenance.json", encoding: .utf8).contains(Digest.of(Array(lockBytes)).description))
    }

    @Test("imagegen sbom and provenance print what build wrote (the provenance without run times and build flags); --output writes the same")
    func commands() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-sbom-command")
        let spdx = try run(imagegenBinary, ["sbom", "tiny"] + Self.flags(built))
        #expect(spdx.status == 0, "\(spdx.stderr)")
        #expect(spdx.stdout == (try String(contentsOfFile: "\(built.out)/tiny.spdx.json", encoding: .utf8)))
        let cdx = try run(imagegenBinary, ["sbom", "tiny", "--format", "cyclonedx", "--output", scratch("tiny.cdx.json")] + Self.flags(built))
        #expect(cdx.status == 0, "\(cdx.stderr)")
        #expect(FileManager.default.contents(atPath: scratch("tiny.cdx.json")) == FileManager.default.contents(atPath: "\(built.out)/tiny.cdx.json"))
        let statement = try run(imagegenBinary, ["provenance", "tiny", "--output", scratch("tiny.provenance.json")] + Self.flags(built))
        #expect(statement.status == 0, "\(statement.stderr)")
        let made = try String(contentsOfFile: scratch("tiny.provenance.json"), encoding: .utf8)
        #expect(!made.contains("startedOn"))
        #expect(made.contains("\"platform\" : \"linux/amd64\""))
        let checked = try run(Self.python, ["\(packageRoot)/scripts/validate-sbom.py", "--lock", "\(built.images)/tiny.lock.json", "--provenance", scratch("tiny.provenance.json")])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
    }

    @Test("bad requests: a format, a platform, an image not built, an image another command made — one line each, non-zero, nothing written")
    func badInputs() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-sbom-bad")
        let format = try run(imagegenBinary, ["sbom", "tiny", "--format", "xml", "--output", scratch("x.json")] + Self.flags(built))
        #expect(format.status != 0)
        #expect(format.stderr.contains("--format xml: expected spdx or cyclonedx"), "\(format.stderr)")
        let platform = try run(imagegenBinary, ["sbom", "tiny", "--platform", "linux/arm64", "--output", scratch("x.json")] + Self.flags(built))
        #expect(platform.status != 0)
        #expect(platform.status == 1)
        #expect(platform.stderr.contains("--platform 'linux/arm64': expected a platform \(built.out)/tiny holds: linux/amd64"), "\(platform.stderr)")
        let missing = try run(imagegenBinary, ["provenance", "tiny", "--out-directory", scratch("nothing"), "--images", built.images, "--cache", built.cache])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("tiny: no such image"), "\(missing.stderr)")
        #expect(format.stderr.split(separator: "\n").first?.hasPrefix("Error: ") == true)
        #expect(!FileManager.default.fileExists(atPath: scratch("x.json")))

        // An image `imagegen pack` made has no component per layer: refused, not guessed.
        try FileManager.default.createDirectory(atPath: scratch("tree/etc"), withIntermediateDirectories: true)
        try writeFile(scratch("tree/etc/hello"), "hello\n")
        let packed = try run(imagegenBinary, ["pack", scratch("tree"), "--out", scratch("packed/tiny"), "--tag", "tiny"])
        #expect(packed.status == 0, "\(packed.stderr)")
        let foreign = try run(imagegenBinary, ["sbom", "tiny", "--out-directory", scratch("packed"), "--images", built.images, "--cache", built.cache])
        #expect(foreign.status == 1)
        #expect(foreign.stderr.split(separator: "\n").count == 1, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("not made by `imagegen build`") || foreign.stderr.contains("not an image `imagegen build` made"), "\(foreign.stderr)")
        #expect(foreign.stdout.isEmpty)
    }

    @Test("push attaches the three documents as referrers (tag schema on docker-registry 2.8); sbom --from returns the build's bytes; a re-push uploads nothing; a stale document stops the push")
    func attached() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-sbom-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        let repository = "\(registry.address)/supply/tiny"
        let pushed = try run(imagegenBinary, ["push", "\(built.out)/tiny", "--to", repository, "--insecure"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stderr.contains("attached 3 documents to \(built.report.manifest) through the referrers tag"), "\(pushed.stderr)")

        // An independent reader: skopeo sees the referrers index under the tag schema's tag.
        let tag = "sha256-\(built.report.manifest.encoded)"
        let raw = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(repository):\(tag)"])
        #expect(raw.status == 0, "\(raw.stderr)")
        let index = try CanonicalJSON.decode(Index.self, from: Array(raw.stdout.utf8), name: "referrers index")
        #expect(Set(index.manifests.compactMap(\.artifactType)) == [.spdxJSON, .cycloneDXJSON, .inTotoJSON])

        for (format, suffix) in [("spdx", "spdx.json"), ("cyclonedx", "cdx.json")] {
            let read = try run(imagegenBinary, ["sbom", "--from", "\(repository)@\(built.report.manifest)", "--format", format, "--insecure", "--output", scratch("from.\(suffix)")])
            #expect(read.status == 0, "\(read.stderr)")
            #expect(FileManager.default.contents(atPath: scratch("from.\(suffix)")) == FileManager.default.contents(atPath: "\(built.out)/tiny.\(suffix)"))
        }
        let statement = try run(imagegenBinary, ["provenance", "--from", "\(repository):tiny", "--insecure"])
        #expect(statement.status == 0, "\(statement.stderr)")
        #expect(statement.stdout == (try String(contentsOfFile: "\(built.out)/tiny.provenance.json", encoding: .utf8)))
        let again = try run(imagegenBinary, ["push", "\(built.out)/tiny", "--to", repository, "--insecure"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains(": 0 blobs uploaded") && again.stderr.contains("(0 blobs uploaded, 4 already there)"), "\(again.stderr)")

        // pull --with-referrers brings them along; verify accepts the layout.
        let pulled = try run(imagegenBinary, ["pull", "\(repository):tiny", "--out", scratch("pulled"), "--with-referrers", "--insecure"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let verified = try run(imagegenBinary, ["verify", scratch("pulled")])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")

        // A document of another build beside the image: refused before anything is sent.
        try FileManager.default.createDirectory(atPath: scratch("stale"), withIntermediateDirectories: true)
        let copied = try run("cp", ["-a", "\(built.out)/tiny", "\(built.out)/tiny.spdx.json", scratch("stale/")])
        #expect(copied.status == 0, "\(copied.stderr)")
        try writeFile(scratch("stale/tiny.provenance.json"), "{\"subject\": []}\n")
        let stale = try run(imagegenBinary, ["push", scratch("stale/tiny"), "--to", "\(registry.address)/supply/stale", "--insecure"])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("tiny.provenance.json: does not describe linux/amd64's manifest \(built.report.manifest)"), "\(stale.stderr)")
        let none = try run("skopeo", ["list-tags", "--tls-verify=false", "docker://\(registry.address)/supply/stale"])
        #expect(none.status != 0 || !none.stdout.contains("tiny"), "\(none.stdout)")
        // --no-attest pushes the image alone; --attest without documents is refused.
        let plain = try run(imagegenBinary, ["push", scratch("stale/tiny"), "--to", "\(registry.address)/supply/plain", "--no-attest", "--insecure"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stderr.contains("attached"))
        try FileManager.default.removeItem(atPath: scratch("stale/tiny.spdx.json"))
        try FileManager.default.removeItem(atPath: scratch("stale/tiny.provenance.json"))
        let insist = try run(imagegenBinary, ["push", scratch("stale/tiny") + "/", "--to", "\(registry.address)/supply/plain", "--attest", "--insecure"])
        #expect(insist.status != 0)
        #expect(insist.stderr.contains("no SBOM or provenance beside it"), "\(insist.stderr)")
    }

    @Test("an image built from another lock (relocked, or another spec's), or whose artifacts are gone from the cache, is refused rather than described wrongly")
    func stale() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-sbom-stale")
        // The same spec relocked later: the lock's resolved time moves, the image's does not.
        let copied = try run("cp", ["-a", built.images, scratch("Images")])
        #expect(copied.status == 0, "\(copied.stderr)")
        var lock = built.lock
        lock.resolved = BuildTime(seconds: 1_800_000_000)
        try writeFile(scratch("Images/tiny.lock.json"), String(decoding: try CanonicalJSON.encode(lock), as: UTF8.self))
        let relocked = try run(imagegenBinary, ["sbom", "tiny", "--images", scratch("Images"), "--cache", built.cache, "--out-directory", built.out])
        #expect(relocked.status == 1)
        #expect(relocked.stderr.contains("it was built from another lock than"), "\(relocked.stderr)")
        // Another spec's lock: the image's spec-digest label says so.
        lock.specDigest = Digest.of(Array("another spec".utf8))
        try writeFile(scratch("Images/tiny.lock.json"), String(decoding: try CanonicalJSON.encode(lock), as: UTF8.self))
        let respecced = try run(imagegenBinary, ["provenance", "tiny", "--images", scratch("Images"), "--cache", built.cache, "--out-directory", built.out])
        #expect(respecced.status == 1)
        #expect(respecced.stderr.contains("was built from a lock of spec \(built.lock.specDigest)"), "\(respecced.stderr)")

        // An empty cache: the declared licenses cannot be read, so no document is made.
        let empty = try run(imagegenBinary, ["sbom", "tiny", "--images", built.images, "--cache", scratch("empty-cache"), "--out-directory", built.out])
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("not in the cache") && empty.stderr.contains("`imagegen build tiny` fetches it"), "\(empty.stderr)")
    }
}
