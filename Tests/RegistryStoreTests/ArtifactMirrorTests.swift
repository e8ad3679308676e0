import Artifacts
import Foundation
import ImageGen
import ImageModel
import OCI
import Registry
import RegistryStore
import TestSupport
import Synchronization
import struct SystemSupport.ProgressSink
import Testing

/// The artifact mirror end to end and offline: `tiny` (``TinyImage``, the image the build tests
/// lock and build against a repository of the host's packages) mirrored into a real registry
/// (`docker-registry` on 127.0.0.1), then built again from an empty cache after the repository
/// dropped a locked version.
@Suite("imagegen mirror and build --artifacts-from, against a local registry", .timeLimit(.minutes(8)))
struct ArtifactMirrorTests {
    /// The mirror repository in every test.
    static let repository = "team/artifacts"

    /// Plain HTTP (the test registry has no TLS), one attempt (a refused connection fails at once).
    static func clientOptions(attempts: Int = 3) -> RegistryClient.Options {
        var options = RegistryClient.Options()
        options.insecure = true
        options.retry = RetryPolicy(attempts: attempts, initialDelay: .milliseconds(50))
        return options
    }

    /// Runs `body` with the mirror at `address` (its client open meanwhile).
    static func withMirror<T: Sendable>(_ address: String, attempts: Int = 3, _ body: (RegistryArtifactMirror) async throws -> T) async throws -> T {
        let reference = try RegistryArtifactMirror.repository(parsing: "\(address)/\(repository)", option: "--artifacts-from")
        return try await RegistryClient.withClient(registry: reference.registry, options: clientOptions(attempts: attempts)) { client in
            try await body(RegistryArtifactMirror(client: client, repository: reference.repository))
        }
    }

    /// Mirrors `tiny`'s lock from a copy of the shared build's cache (offline: everything is
    /// there) into `registry`.
    static func mirrorTiny(to registry: RegistryServer, scratch: ScratchDirectory) async throws -> ArtifactMirrorPusher.Report {
        let built = try await TinyImage.Built.shared.value
        if !FileManager.default.fileExists(atPath: scratch("cache")) { try TinyImage.copy(built.cache, to: scratch("cache")) }
        var build = try TinyImage.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: nil)
        build.offline = true
        let destination = try RegistryArtifactMirror.repository(parsing: "\(registry.address)/\(repository)", option: "--to")
        return try await RegistryClient.withClient(registry: registry.address, options: clientOptions()) { client in
            try await ArtifactMirrorPusher(client: client, options: .init(destination: destination, build: build)).push(["tiny"])
        }
    }

    /// The lock's distinct artifacts.
    static func artifacts(_ lock: Lockfile) -> [MirroredArtifact] {
        var seen = Set<Digest>()
        return (lock.debs.map(MirroredArtifact.init) + lock.wheels.map(MirroredArtifact.init)).filter { seen.insert($0.sha256).inserted }
    }

    // MARK: (a) mirror

    @Test("mirror pushes every locked deb and wheel as a blob under one artifact manifest; skopeo sees it; a second run sends nothing")
    func mirrorPushes() async throws {
        let scratch = try ScratchDirectory()
        let registry = try RegistryServer(directory: scratch("registry"))
        let built = try await TinyImage.Built.shared.value
        let expected = Self.artifacts(built.lock)

        let first = try await Self.mirrorTiny(to: registry, scratch: scratch)
        #expect(first.fetched == 0)
        #expect(first.uploaded == expected.count + 1)  // and the empty config
        #expect(first.existing == 0)
        #expect(first.bytesUploaded == expected.reduce(0) { $0 + $1.size } + 2)
        let image = try #require(first.images.first)
        let lockBytes = try FileReader.readAll(path: "\(built.images)/tiny.lock.json", limit: 1 << 20)
        #expect(image.lockSHA256 == Digest.of(lockBytes))
        #expect(image.reference == "\(registry.address)/\(Self.repository):tiny-lock-\(Digest.of(lockBytes).encoded.prefix(32))")
        #expect(image.debs == built.lock.debs.count && image.wheels == built.lock.wheels.count)
        #expect(image.action == .created)

        // skopeo, an independent client, reads the manifest by its tag.
        let tag = String(image.reference.split(separator: ":").last!)
        let inspect = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.address)/\(Self.repository):\(tag)"])
        try #require(inspect.status == 0, "\(inspect.stderr)")
        #expect(Digest.of(Array(inspect.stdout.utf8)) == image.manifest)
        let manifest = try CanonicalJSON.decode(Manifest.self, from: Array(inspect.stdout.utf8), name: "skopeo inspect --raw")
        #expect(manifest.artifactType?.rawValue == "application/vnd.imagegen.artifacts.v1+json")
        #expect(manifest.config.mediaType.rawValue == "application/vnd.oci.empty.v1+json")
        #expect(manifest.layers.map(\.digest) == expected.map(\.sha256))
        for (layer, artifact) in zip(manifest.layers, expected) {
            #expect(layer.size == artifact.size)
            #expect(layer.annotations?["org.opencontainers.image.title"] == artifact.fileName)
            #expect(layer.annotations?["io.imagegen.artifact.kind"] == artifact.kind.rawValue)
            #expect(layer.annotations?["io.imagegen.artifact.name"] == artifact.name)
            #expect(layer.annotations?["io.imagegen.artifact.version"] == artifact.version)
        }

        // Our client finds every blob, and one comes back byte for byte.
        try await RegistryClient.withClient(registry: registry.address, options: Self.clientOptions()) { client in
            for artifact in expected { #expect(try await client.blobExists(Self.repository, artifact.sha256), "\(artifact.fileName)") }
            let deb = try #require(expected.first { $0.kind == .deb })
            try await client.pullBlob(
                Self.repository, descriptor: Descriptor(mediaType: .debianPackage, digest: deb.sha256, size: deb.size), to: scratch("pulled.deb"))
        }
        let pulled = try sha256sum(scratch("pulled.deb"))
        #expect(pulled.sha256 == expected.first { $0.kind == .deb }!.sha256.description)

        let again = try await Self.mirrorTiny(to: registry, scratch: scratch)
        #expect(again.uploaded == 0)
        #expect(again.bytesUploaded == 0)
        #expect(again.existing == expected.count + 1)
        #expect(again.images.first?.manifest == image.manifest)
        #expect(again.images.first?.action == .unchanged)
    }

    @Test("the CLI mirrors with --json and progress lines, a second run uploads nothing, and a runner with an empty cache fetches nothing the mirror holds")
    func mirrorCLI() async throws {
        let scratch = try ScratchDirectory()
        let registry = try RegistryServer(directory: scratch("registry"))
        let built = try await TinyImage.Built.shared.value
        try TinyImage.copy(built.cache, to: scratch("cache"))
        let arguments = [
            "mirror", "tiny", "--to", "\(registry.address)/\(Self.repository)", "--insecure", "--offline",
            "--images", built.images, "--cache", scratch("cache"), "--json",
        ]
        let first = try run(imagegenBinary, arguments)
        try #require(first.status == 0, "\(first.stderr)")
        let report = try JSONDecoder().decode(ArtifactMirrorPusher.Report.self, from: Data(first.stdout.utf8))
        #expect(report.uploaded == Self.artifacts(built.lock).count + 1)
        #expect(first.stderr.contains("uploaded"), "\(first.stderr)")
        let second = try run(imagegenBinary, arguments)
        try #require(second.status == 0, "\(second.stderr)")
        let again = try JSONDecoder().decode(ArtifactMirrorPusher.Report.self, from: Data(second.stdout.utf8))
        #expect(again.uploaded == 0)
        #expect(again.images.map(\.manifest) == report.images.map(\.manifest))

        // Another runner, with an empty cache and no sources: what the mirror holds is not fetched again.
        let fresh = try run(imagegenBinary, arguments.map { $0 == scratch("cache") ? scratch("empty") : $0 })
        try #require(fresh.status == 0, "\(fresh.stderr)")
        let third = try JSONDecoder().decode(ArtifactMirrorPusher.Report.self, from: Data(fresh.stdout.utf8))
        #expect(third.fetched == 0 && third.uploaded == 0 && third.existing == Self.artifacts(built.lock).count + 1)
    }

    // MARK: (b) upstream drops a locked version

    /// A copy of the shared repository in which `ca-certificates 20230311`, which `tiny` locks,
    /// is replaced by a newer version (as Debian's mirrors do).
    static func droppedRepository(in scratch: ScratchDirectory) throws -> String {
        let fixtures = try TinyImage.Fixtures.shared.get()
        let root = scratch("dropped")
        try TinyImage.copy(fixtures.repository.root, to: root)
        let newer = try DebianRepositoryFixture(at: scratch("newer"), packages: [.init(name: "ca-certificates", version: "20240203")])
        try FileManager.default.removeItem(atPath: "\(root)/pool/ca-certificates_20230311_all.deb")
        try FileManager.default.copyItem(atPath: "\(newer.root)/pool/ca-certificates_20240203_all.deb", toPath: "\(root)/pool/ca-certificates_20240203_all.deb")
        try writeFile("\(root)/Packages", try FixtureError.check(run("apt-ftparchive", ["packages", "pool"], directory: root)))
        try FileManager.default.removeItem(atPath: "\(root)/Release")
        try writeFile("\(root)/Release", try FixtureError.check(run("apt-ftparchive", ["release", "."], directory: root)))
        return root
    }

    @Test("after upstream drops a locked version: no mirror fails naming the package and --artifacts-from; with it, the same image digest")
    func buildAfterDrop() async throws {
        let scratch = try ScratchDirectory()
        let built = try await TinyImage.Built.shared.value
        #expect(built.lock.debs.contains { $0.name == "ca-certificates" && $0.version == "20230311" })
        let registry = try RegistryServer(directory: scratch("registry"))
        _ = try await Self.mirrorTiny(to: registry, scratch: scratch)

        let fixtures = try TinyImage.Fixtures.shared.get()
        let servers = try FixtureServers(repository: try Self.droppedRepository(in: scratch), index: fixtures.index)

        // No mirror, an empty cache: the one-line error names the package and the option.
        let bare = try TinyImage.options(images: built.images, cache: scratch("cache-bare"), out: scratch("out-bare"), servers: servers)
        let error = await #expect(throws: ArtifactsError.self) { try await Builder(options: bare).build("tiny") }
        let message = try #require(error).description
        #expect(message.contains("ca-certificates 20230311 (all)"), "\(message)")
        #expect(message.contains("--artifacts-from REG/REPO"), "\(message)")
        #expect(message.contains("imagegen mirror tiny"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: scratch("out-bare/tiny")))

        // The CLI says the same in one line and exits 1.
        let cli = try run(imagegenBinary, [
            "build", "tiny", "--images", built.images, "--cache", scratch("cache-cli"), "--out", scratch("out-cli"),
            "--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--no-pip-config", "--quiet",
        ], environment: ["SOURCE_DATE_EPOCH": "\(TinyImage.sourceDateEpoch)", "IMAGEGEN_ARTIFACTS_FROM": ""])
        #expect(cli.status == 1)
        let lines = cli.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("ca-certificates 20230311") && lines[0].contains("--artifacts-from"), "\(cli.stderr)")

        // The CLI with the mirror named by IMAGEGEN_ARTIFACTS_FROM (as CI does): the image of before the drop.
        let fromMirror = try run(imagegenBinary, [
            "build", "tiny", "--images", built.images, "--cache", scratch("cache-cli-mirror"), "--out", scratch("out-cli-mirror"),
            "--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--no-pip-config", "--insecure", "--json",
        ], environment: ["SOURCE_DATE_EPOCH": "\(TinyImage.sourceDateEpoch)", "IMAGEGEN_ARTIFACTS_FROM": "\(registry.address)/\(Self.repository)"])
        try #require(fromMirror.status == 0, "\(fromMirror.stderr)")
        #expect(try JSONDecoder().decode(Builder.Report.self, from: Data(fromMirror.stdout.utf8)).manifest == built.report.manifest)
        #expect(fromMirror.stderr.contains("mirror: fetched \(Self.artifacts(built.lock).count) of"), "\(fromMirror.stderr)")

        // With the mirror: everything from it, and the image of before the drop.
        try await Self.withMirror(registry.address) { mirror in
            var mirrored = bare
            mirrored.cacheDirectory = scratch("cache-mirror")
            mirrored.outputDirectory = scratch("out-mirror")
            mirrored.artifactMirror = mirror
            let progress = MirrorProgressLines()
            let report = try await Builder(options: mirrored, progress: ProgressSink(notes: progress.add)).build("tiny")
            #expect(report.manifest == built.report.manifest)
            #expect(report.fetched == built.lock.debs.count + built.lock.wheels.count)
            #expect(progress.lines.contains { $0.hasPrefix("mirror \(registry.address)/\(Self.repository): fetching") }, "\(progress.lines)")
            #expect(!progress.lines.contains { $0.hasPrefix("apt:") || $0.hasPrefix("pip:") }, "\(progress.lines)")

            // A blob the mirror lacks falls through to pip (the wheel index still has it).
            let wheel = try #require(built.lock.wheels.first)
            let deleted = try run(
                "curl", ["-sf", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "http://\(registry.address)/v2/\(Self.repository)/blobs/\(wheel.sha256)"])
            try #require(deleted.stdout == "202", "\(deleted.stdout) \(deleted.stderr)")
            mirrored.cacheDirectory = scratch("cache-partial")
            mirrored.outputDirectory = scratch("out-partial")
            let partialProgress = MirrorProgressLines()
            let partial = try await Builder(options: mirrored, progress: ProgressSink(notes: partialProgress.add)).build("tiny")
            #expect(partial.manifest == built.report.manifest)
            #expect(partialProgress.lines.contains { $0.contains("1 not in the mirror") }, "\(partialProgress.lines)")
            #expect(partialProgress.lines.contains("pip: fetched 1 wheel"), "\(partialProgress.lines)")
        }
    }

    // MARK: (c) bad inputs

    @Test(
        "a malformed REGISTRY/REPOSITORY is refused in one line naming it",
        arguments: ["artifacts", "team/artifacts", "127.0.0.1:5000/Team", "127.0.0.1:5000/artifacts:v1", "127.0.0.1:5000/artifacts@sha256:" + String(repeating: "a", count: 64), ""])
    func malformedRepository(_ value: String) throws {
        let error = #expect(throws: RegistryStoreError.self) { try RegistryArtifactMirror.repository(parsing: value, option: "--artifacts-from") }
        let message = try #require(error).description
        #expect(message.hasPrefix("--artifacts-from '\(value)': "), "\(message)")
        #expect(message.contains("expected REGISTRY/REPOSITORY"))
        #expect(!message.contains("\n"))
    }

    @Test("the CLI refuses a malformed --artifacts-from, IMAGEGEN_ARTIFACTS_FROM and --to with exit 64, before anything is read")
    func malformedRepositoryCLI() throws {
        let scratch = try ScratchDirectory()
        for (arguments, environment, name) in [
            (["build", "tiny", "--artifacts-from", "artifacts:v1"], [String: String](), "--artifacts-from"),
            (["build", "tiny"], ["IMAGEGEN_ARTIFACTS_FROM": "no-registry/artifacts"], "IMAGEGEN_ARTIFACTS_FROM"),
            (["mirror", "tiny", "--to", "127.0.0.1:5000/Team"], [:], "--to"),
        ] {
            let result = try run(imagegenBinary, arguments + ["--images", scratch("Images"), "--cache", scratch("cache")], environment: environment)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("\(name) '"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch("cache")))
        }
    }

    @Test("an unreachable mirror stops the fetch with one line naming it; nothing is cached")
    func unreachableMirror() async throws {
        let scratch = try ScratchDirectory()
        let built = try await TinyImage.Built.shared.value
        let address = "127.0.0.1:\(try freeLoopbackPort())"
        var fetcher = ArtifactFetcher(cache: try ArtifactCache(directory: scratch("artifacts")), stateDirectory: scratch("state"))
        let message = try await Self.withMirror(address, attempts: 1) { mirror in
            fetcher.mirror = mirror
            let fetcher = fetcher
            let error = await #expect(throws: RegistryStoreError.self) { try await fetcher.fetch(built.lock) }
            return try #require(error).description
        }
        #expect(message.contains("the artifact mirror \(address)/\(Self.repository) cannot be used"), "\(message)")
        #expect(message.contains("connection refused"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("artifacts/sha256")).isEmpty)
    }

    @Test("a mirror blob whose bytes differ from the lock is refused, naming the file; nothing is cached")
    func corruptBlob() async throws {
        let scratch = try ScratchDirectory()
        let registry = try RegistryServer(directory: scratch("registry"))
        _ = try await Self.mirrorTiny(to: registry, scratch: scratch)
        let built = try await TinyImage.Built.shared.value
        let deb = try #require(built.lock.debs.first)
        // The registry serves its files as they are: same length, other bytes.
        let hex = deb.sha256.encoded
        let data = "\(registry.storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
        try #require(FileManager.default.fileExists(atPath: data))
        try writeFile(data, [UInt8](repeating: 0x2A, count: Int(deb.size)))

        var fetcher = ArtifactFetcher(cache: try ArtifactCache(directory: scratch("artifacts")), stateDirectory: scratch("state"))
        let message = try await Self.withMirror(registry.address) { mirror in
            fetcher.mirror = mirror
            let fetcher = fetcher
            let error = await #expect(throws: RegistryStoreError.self) { try await fetcher.fetch(debs: [deb], wheels: []) }
            return try #require(error).description
        }
        #expect(message.contains("holds other bytes for \(deb.fileName)"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("artifacts/sha256")).isEmpty)
    }
}

/// Progress lines collected from a build.
final class MirrorProgressLines: Sendable {
    private let storage = Mutex<[String]>([])
    /// Every line so far.
    var lines: [String] { storage.withLock { $0 } }
    /// Adds a line.
    @Sendable func add(_ line: String) { storage.withLock { $0.append(line) } }
}
