import Foundation
import ImageGen
import ImageModel
import OCI
import Testing
import TestSupport

/// The registry as the shared cache (docs/shared-cache.md), the way CI uses it: `imagegen build`
/// run as a fresh runner would (an empty cache directory), against docker-registry on 127.0.0.1.
@Suite("the registry as the shared cache: layers by their inputs, published without downloads")
struct SharedCacheTests {
    /// The `build` report and push summary of a CLI build.
    struct Published: Decodable {
        var build: Builder.Report
        var push: Push
        struct Push: Decodable { var uploaded: Int; var mounted: Int; var existing: Int; var bytesUploaded: Int64 }
    }

    static func build(_ arguments: [String], images: String, cache: String) throws -> (ProcessResult, Published?) {
        let result = try run(
            imagegenBinary, ["build", "tiny", "--images", images, "--cache", cache, "--insecure", "--json"] + arguments,
            environment: ["SOURCE_DATE_EPOCH": "\(BuildTests.sourceDateEpoch)"])
        return (result, try? JSONDecoder().decode(Published.self, from: Data(result.stdout.utf8)))
    }

    @Test("a fresh runner with --cache-from and --to fetches nothing and uploads no blob; one wheel changed: only its layer is fetched, packed and uploaded; digests equal a full local build's")
    func freshRunner() async throws {
        let built = try await BuildTests.Built.shared.value
        let fixtures = try BuildTests.Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-shared-cache")
        let registry = try RegistryServer(directory: scratch("registry"))
        let cache = "\(registry.address)/team/cache", app = "\(registry.address)/team/tiny"

        // Runner 1, warm: records every layer it has locally and publishes.
        try BuildTests.copy(built.cache, to: scratch("warm"))
        let (first, firstReport) = try Self.build(["--offline", "--cache-to", cache, "--to", app, "--out", scratch("out1")], images: built.images, cache: scratch("warm"))
        #expect(first.status == 0, "\(first.stderr)")
        let published = try #require(firstReport)
        #expect(published.build.manifest == built.report.manifest)
        #expect(published.build.cachedToRegistry == built.report.layers.count)
        #expect(!FileManager.default.fileExists(atPath: scratch("out1/tiny")), "--to writes no layout without --local")
        #expect(FileManager.default.fileExists(atPath: scratch("out1/tiny.spdx.json")))

        // Runner 2, fresh and offline: every layer from the registry, nothing fetched, nothing sent.
        let (second, secondReport) = try Self.build(
            ["--offline", "--cache-from", cache, "--cache-to", cache, "--to", app, "--out", scratch("out2")], images: built.images, cache: scratch("fresh2"))
        #expect(second.status == 0, "\(second.stderr)")
        let again = try #require(secondReport)
        #expect(again.build.manifest == built.report.manifest)
        #expect(again.build.layers.allSatisfy { $0.source == .registry })
        #expect(again.build.fetched == 0 && again.build.bytesFromRegistry == 0 && again.build.cachedToRegistry == 0)
        #expect(again.push.uploaded == 0 && again.push.bytesUploaded == 0, "\(second.stderr)")
        // Its bills of materials are the warm runner's, from the facts the cache carries.
        #expect(FileManager.default.contents(atPath: scratch("out2/tiny.spdx.json")) == FileManager.default.contents(atPath: scratch("out1/tiny.spdx.json")))
        #expect(try skopeoDigest("\(app):tiny") == built.report.manifest.description)

        // App 1.1: the lock changes one wheel of the packages layer.
        let index = try BuildTests.makeIndex(at: scratch("index"), appVersions: ["1.0", "1.1"])
        let servers = try fixtures.serve(index: index.root)
        try BuildTests.copy(built.images, to: scratch("Images"))
        for git in [["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "tiny"]] {
            let result = try run("git", ["-C", scratch("Images")] + git)
            try #require(result.status == 0, "\(result.stderr)")
        }
        let (lock, _) = try await servers.locker(images: scratch("Images"), cacheDirectory: scratch("lock-cache")).lock("tiny")
        let packagesWheels = lock.wheels.filter { $0.component == .packages }
        let sources = ["--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--no-pip-config"]

        // plan says so before anything is built: every layer but packages is in the cache.
        let plan = try run(
            imagegenBinary, ["plan", "--images", scratch("Images"), "--cache-from", cache, "--insecure", "--json"],
            environment: ["SOURCE_DATE_EPOCH": "\(BuildTests.sourceDateEpoch)"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stderr.contains("4 of 5 layers cached"), "\(plan.stderr)")
        let packagesRow = plan.stderr.split(separator: "\n").first { $0.hasPrefix("  packages ") }
        #expect(packagesRow?.contains("miss") == true, "\(plan.stderr)")
        let matrix = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any]
        let entry = try #require((matrix?["include"] as? [[String: Any]])?.first)
        let planned = try #require(entry["cache"] as? [String: Any])
        #expect(planned["cachedLayers"] as? [String] == ["base", "python", "cuda", "config"])
        #expect((planned["fetchBytes"] as? NSNumber)?.int64Value == packagesWheels.reduce(0) { $0 + $1.size })
        let (third, thirdReport) = try Self.build(
            ["--cache-from", cache, "--cache-to", cache, "--to", app, "--force", "--out", scratch("out3")] + sources, images: scratch("Images"), cache: scratch("fresh3"))
        #expect(third.status == 0, "\(third.stderr)")
        let bumped = try #require(thirdReport)
        #expect(bumped.build.layers.filter { $0.source == .packed }.map(\.component) == ["packages"])
        #expect(bumped.build.fetched == packagesWheels.count)
        #expect(bumped.build.fetchedBytes == packagesWheels.reduce(0) { $0 + $1.size })
        #expect(bumped.build.cachedToRegistry == 1)
        let packagesLayer = try #require(bumped.build.layers.first { $0.component == "packages" })
        // The new layer went to the cache first (--cache-to), so the publish mounts it: only the
        // config is sent (and the manifest, which is not a blob).
        #expect(bumped.push.uploaded == 1 && bumped.push.mounted >= 1, "\(third.stderr)")
        #expect(bumped.push.bytesUploaded < 64 << 10 && bumped.build.bytesToRegistry >= packagesLayer.size)

        // The same lock built the ordinary way, from the warm cache: the same image.
        let local = try run(
            imagegenBinary, ["build", "tiny", "--images", scratch("Images"), "--cache", scratch("warm"), "--out", scratch("local"), "--json"] + sources,
            environment: ["SOURCE_DATE_EPOCH": "\(BuildTests.sourceDateEpoch)"])
        #expect(local.status == 0, "\(local.stderr)")
        let localReport = try JSONDecoder().decode(Builder.Report.self, from: Data(local.stdout.utf8))
        #expect(localReport.manifest == bumped.build.manifest)
        #expect(try skopeoDigest("\(app):tiny") == localReport.manifest.description)
        #expect(FileManager.default.contents(atPath: scratch("out3/tiny.cdx.json")) == FileManager.default.contents(atPath: scratch("local/tiny.cdx.json")))
    }

    @Test("--local with --to downloads the cache's layers, verified, and writes a layout that verify accepts")
    func localLayout() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-shared-cache-local")
        let registry = try RegistryServer(directory: scratch("registry"))
        let cache = "\(registry.address)/team/cache"
        try BuildTests.copy(built.cache, to: scratch("warm"))
        let (seed, _) = try Self.build(["--offline", "--cache-to", cache, "--out", scratch("seed")], images: built.images, cache: scratch("warm"))
        #expect(seed.status == 0, "\(seed.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch("seed/tiny")), "without --to, build writes its layout as ever")

        let result = try run(
            imagegenBinary, ["build", "tiny", "--images", built.images, "--cache", scratch("fresh"), "--offline", "--insecure", "--json",
                             "--cache-from", cache, "--to", "\(registry.address)/team/tiny", "--local", "--out", scratch("out")],
            environment: ["SOURCE_DATE_EPOCH": "\(BuildTests.sourceDateEpoch)"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try? JSONDecoder().decode(Published.self, from: Data(result.stdout.utf8)))
        #expect(report.build.bytesFromRegistry == built.report.layers.reduce(0) { $0 + $1.size })
        #expect(report.build.manifest == built.report.manifest)
        let verified = try run(imagegenBinary, ["verify", scratch("out/tiny")])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch("out/tiny.tar")))
    }

    @Test("over TLS, as every real registry speaks: the cache and the publish work with the registry's CA given (IMAGEGEN_REGISTRY_CA_FILE), and are refused in one line without it")
    func overTLS() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-shared-cache-tls")
        let ca = try TestCertificateAuthority(directory: scratch("ca"))
        let registry = try RegistryServer(directory: scratch("registry"), tls: try ca.issue("registry", subjectAltName: "IP:127.0.0.1"))
        let cache = "\(registry.address)/team/cache"
        func build(_ arguments: [String], cache directory: String, caFile: String?) throws -> ProcessResult {
            var environment = ["SOURCE_DATE_EPOCH": "\(BuildTests.sourceDateEpoch)"]
            if let caFile { environment["IMAGEGEN_REGISTRY_CA_FILE"] = caFile }
            return try run(
                imagegenBinary, ["build", "tiny", "--images", built.images, "--cache", directory, "--offline", "--quiet"] + arguments,
                environment: environment)
        }
        try BuildTests.copy(built.cache, to: scratch("warm"))
        let untrusted = try build(["--cache-to", cache, "--out", scratch("out0")], cache: scratch("warm"), caFile: nil)
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("TLS certificate not trusted") && untrusted.stderr.split(separator: "\n").count == 1, "\(untrusted.stderr)")

        let seeded = try build(["--cache-to", cache, "--out", scratch("out1")], cache: scratch("warm"), caFile: ca.certificate)
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let fresh = try build(["--cache-from", cache, "--to", "\(registry.address)/team/tiny", "--out", scratch("out2")], cache: scratch("fresh"), caFile: ca.certificate)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let pulled = try run(imagegenBinary, ["pull", "\(registry.address)/team/tiny:tiny", "--out", scratch("pulled"), "--ca-file", ca.certificate])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let verified = try run(imagegenBinary, ["verify", scratch("pulled")])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let index = try String(contentsOfFile: scratch("pulled/index.json"), encoding: .utf8)
        #expect(index.contains(built.report.manifest.description), "the published image is the local build's: \(index)")
    }

    @Test("bad requests: a tag on --cache-from, --local without --to, an unreachable cache, a tag that is not a cache record — one line each, non-zero")
    func badInputs() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-shared-cache-bad")
        let registry = try RegistryServer(directory: scratch("registry"))

        func refused(_ arguments: [String], _ expected: String, status: Int32 = 64) throws {
            let (result, _) = try Self.build(arguments + ["--offline", "--quiet", "--out", scratch("out")], images: built.images, cache: scratch("cache"))
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            // One line; a usage error adds ArgumentParser's pointer to --help below it.
            #expect(result.stderr.split(separator: "\n").first?.contains(expected) == true, "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch("out/tiny")))
        }
        try refused(
            ["--cache-from", "\(registry.address)/team/cache:v1"],
            "--cache-from '\(registry.address)/team/cache:v1': it names a tag; the tags in a store repository are imagegen's to choose; expected REGISTRY/REPOSITORY")
        try refused(["--local"], "--local writes out/NAME beside a publish; it needs --to")
        try refused(["--cache-to", "not a reference"], "--cache-to 'not a reference': ")
        let closed = try freeLoopbackPort()
        try refused(["--cache-from", "127.0.0.1:\(closed)/team/cache", "--retries", "1"], "127.0.0.1:\(closed)", status: 1)

        // Another image under a layer's tag is not taken for a cache record.
        try BuildTests.copy(built.cache, to: scratch("seedcache"))
        let (warm, _) = try Self.build(["--offline", "--cache-to", "\(registry.address)/team/cache", "--out", scratch("seed")], images: built.images, cache: scratch("seedcache"))
        #expect(warm.status == 0, "\(warm.stderr)")
        let tags = try run("skopeo", ["list-tags", "--tls-verify=false", "docker://\(registry.address)/team/cache"])
        let layerTag = try #require(tags.stdout.split(separator: "\"").map(String.init).first { $0.hasPrefix("layer-") })
        let copy = try run("skopeo", ["copy", "--dest-tls-verify=false", "oci:\(built.out)/tiny:tiny", "docker://\(registry.address)/team/cache:\(layerTag)"])
        #expect(copy.status == 0, "\(copy.stderr)")
        try refused(["--cache-from", "\(registry.address)/team/cache"], "not an imagegen cache record", status: 1)
    }
}
