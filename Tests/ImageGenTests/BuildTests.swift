import Artifacts
import Foundation
import Glibc
import ImageGen
import ImageModel
import Layers
import OCI
import TestSupport
import Testing

/// `imagegen build` end to end and offline: a Debian repository of the host's own installed
/// packages (repacked, so the image really runs) and a wheel index, both made by the test and
/// served on 127.0.0.1; a spec locked against them, then built.
///
/// The repository, the index and one build of `tiny` are made once per run and shared
/// (``TinyImage``, in TestSupport, so that other test targets build the same image); each test
/// that writes into a cache works on its own copy.
@Suite("imagegen build from a lock, against a repository of the host's packages", .timeLimit(.minutes(8)))
struct BuildTests {
    /// The host packages the image is made of (``TinyImage/hostPackages``).
    static let hostPackages = TinyImage.hostPackages

    /// What the Locker asks for that the image does not need to run (``TinyImage/madeUpPackages()``).
    static func madeUpPackages() throws -> [DebianRepositoryFixture.Package] { try TinyImage.madeUpPackages() }

    /// The app (a console script) and its library, and NVIDIA's CUDA 12.6 wheels.
    static let wheels = TinyImage.wheels

    /// The console script of `imagegen-fixture-app`.
    static let script = TinyImage.script

    /// What the console script of app `version` prints.
    static func greeting(_ version: String) -> String { TinyImage.greeting(version) }

    /// Every build's `SOURCE_DATE_EPOCH`.
    static let sourceDateEpoch = TinyImage.sourceDateEpoch

    /// Python 3.11, the CUDA 12.6 runtime wheels and the fixture app on bookworm.
    static func spec(ports: [Int] = []) -> String { TinyImage.spec(ports: ports) }

    /// A wheel index with `appVersions` of the app besides ``wheels``.
    static func makeIndex(at root: String, appVersions: [String]) throws -> WheelIndexFixture {
        try TinyImage.makeIndex(at: root, appVersions: appVersions)
    }

    /// The repository and the index, made once per run.
    typealias Fixtures = TinyImage.Fixtures

    /// `tiny`, locked and built once per run.
    typealias Built = TinyImage.Built

    /// Builder options over `servers` (none: the host's sources, for builds that must not fetch).
    static func options(images: String, cache: String, out: String, servers: FixtureServers?) throws -> Builder.Options {
        try TinyImage.options(images: images, cache: cache, out: out, servers: servers)
    }

    /// Copies a directory (a cache, `Images/`) so that a test can change its copy.
    static func copy(_ source: String, to destination: String) throws { try TinyImage.copy(source, to: destination) }

    /// `umoci unpack` of `layout:tiny` into `bundle` (rootless when not root); the rootfs path.
    static func unpack(_ layout: String, into bundle: String, tag: String = "tiny") throws -> String {
        let rootless = getuid() == 0 ? [] : ["--rootless"]
        let result = try run("umoci", ["unpack"] + rootless + ["--image", "\(layout):\(tag)", bundle])
        guard result.status == 0 else { throw FixtureError(message: "umoci unpack: \(result.stderr)") }
        return "\(bundle)/rootfs"
    }

    // MARK: The image

    @Test("the image: one layer per component, accepted by imagegen verify, oci-image-tool, skopeo and umoci")
    func image() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        #expect(built.report.layers.map(\.component) == ["base", "python", "cuda", "packages", "config"])
        #expect(built.report.layers.allSatisfy { !$0.reused })
        #expect(built.report.fetched == built.lock.debs.count + built.lock.wheels.count)
        #expect(built.lock.debs.map(\.name).sorted() == fixtures.repository.names)
        #expect(built.lock.wheels.map { "\($0.component.rawValue) \($0.name) \($0.version)" }.sorted() == [
            "cuda nvidia-cuda-nvrtc-cu12 12.6.77", "cuda nvidia-cuda-runtime-cu12 12.6.77",
            "packages imagegen-fixture-app 1.0", "packages imagegen-fixture-lib 2.0",
        ])

        let layout = "\(built.out)/tiny"
        #expect(built.report.layout == layout)
        #expect(built.report.archive == "\(built.out)/tiny.tar")
        for path in [layout, "\(built.out)/tiny.tar"] {
            let verified = ImageVerifier().verify(path: path)
            #expect(verified.ok, "\(path): \(verified.problems)")
            #expect(verified.layers == 5)
        }

        let validate = try run("oci-image-tool", ["validate", "--type", "image", layout])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")

        let inspect = try run("skopeo", ["inspect", "oci:\(layout):tiny"])
        try #require(inspect.status == 0, "\(inspect.stderr)")
        struct Inspect: Decodable {
            var Digest: String
            var Layers: [String]
            var Env: [String]
            var Labels: [String: String]
        }
        let info = try JSONDecoder().decode(Inspect.self, from: Data(inspect.stdout.utf8))
        #expect(info.Digest == built.report.manifest.description)
        #expect(info.Layers == built.report.layers.map(\.digest.description))
        let path = try #require(info.Env.first { $0.hasPrefix("PATH=") })
        #expect(path.hasPrefix("PATH=/opt/venv/bin:"), "\(path)")
        #expect(info.Env.contains("VIRTUAL_ENV=/opt/venv"))
        #expect(info.Env.contains("CUDA_VERSION=12.6"))
        #expect(info.Labels["io.imagegen.python.version"] == "3.11")
        #expect(info.Labels["io.imagegen.image"] == "tiny")
        #expect(info.Labels["io.imagegen.lock.spec-digest"] == built.lock.specDigest.description)

        let scratch = try ScratchDirectory("imagegen-build-image")
        let rootfs = try Self.unpack(layout, into: scratch("bundle"))
        let fm = FileManager.default

        // dpkg reads the database the layers wrote: every package of the lock is installed.
        let dpkg = try run("dpkg-query", ["--admindir=\(rootfs)/var/lib/dpkg", "-l"], environment: ["COLUMNS": "200"])
        #expect(dpkg.status == 0, "\(dpkg.stderr)")
        // `ii  libc6:amd64  2.36-9+deb12u14  amd64  GNU C Library: …`
        var installed: [String] = []
        for line in dpkg.stdout.split(separator: "\n") {
            let columns: [Substring] = line.split(separator: " ")
            guard columns.count > 2, columns[0] == "ii" else { continue }
            installed.append(String(columns[1].prefix { $0 != ":" }))
        }
        #expect(installed.sorted() == built.lock.debs.map(\.name).sorted(), "\(dpkg.stdout)")

        let entrypoint = "\(rootfs)/usr/local/bin/imagegen-entrypoint"
        #expect(fm.isExecutableFile(atPath: entrypoint))
        let passwd = try String(contentsOfFile: "\(rootfs)/etc/passwd", encoding: .utf8)
        let root = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("root:") }, "\(passwd)")
        #expect(root.split(separator: ":", omittingEmptySubsequences: false)[2...3] == ["0", "0"], "\(root)")
        // base-passwd's master files, with shadow passwords on (as the base layer writes them):
        // the password field is `x`, the password itself in /etc/shadow.
        #expect(root.hasPrefix("root:x:0:0:"), "\(root)")
        let ssh = (try? fm.contentsOfDirectory(atPath: "\(rootfs)/etc/ssh")) ?? []
        #expect(ssh.filter { $0.hasPrefix("ssh_host_") }.isEmpty, "\(ssh)")
        var isDirectory: ObjCBool = false
        #expect(fm.fileExists(atPath: "\(rootfs)/workspace", isDirectory: &isDirectory) && isDirectory.boolValue)
        let launcher = try String(contentsOfFile: "\(rootfs)/opt/venv/bin/\(Self.script)", encoding: .utf8)
        #expect(launcher.hasPrefix("#!/opt/venv/bin/python3.11\n"), "\(launcher)")
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(rootfs)/opt/venv/bin/python3.11") == "/usr/bin/python3.11")
    }

    @Test(
        "the image runs: its venv's Python, the console script, the installed library (in a chroot)",
        .enabled(if: getuid() == 0, "chroot needs root: run the tests as root to run the image's Python"))
    func runs() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-build-runs")
        let rootfs = try Self.unpack("\(built.out)/tiny", into: scratch("bundle"))
        // A clean environment: nothing of the host's (pyenv's PYTHON*) reaches the image.
        func inImage(_ command: [String]) throws -> ProcessResult {
            try run("env", ["-i", "PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "chroot", rootfs] + command)
        }

        let prefix = try inImage(["/opt/venv/bin/python", "-c", "import sys; print(sys.prefix)"])
        #expect(prefix.status == 0, "\(prefix.stderr)")
        #expect(prefix.stdout == "/opt/venv\n")

        let script = try inImage(["/opt/venv/bin/\(Self.script)"])
        #expect(script.status == 0, "\(script.stderr)")
        #expect(script.stdout == Self.greeting("1.0") + "\n")

        let library = try inImage(["python3", "-c", "import imagegen_fixture_lib as lib, sys; print(lib.VERSION, sys.executable)"])
        #expect(library.status == 0, "\(library.stderr)")
        #expect(library.stdout == "2.0 /opt/venv/bin/python3\n")
    }

    // MARK: Reproducible and incremental

    @Test("the same lock built into another cache and output directory, with one thread and one layer at a time, gives the same bytes")
    func reproducible() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-again")
        let servers = try fixtures.serve()
        var options = try Self.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: servers)
        options.threads = 1
        options.parallelLayers = 1
        let again = try await Builder(options: options).build("tiny")

        #expect(again.manifest == built.report.manifest)
        #expect(again.layers.map(\.digest) == built.report.layers.map(\.digest))
        #expect(again.layers.allSatisfy { !$0.reused })
        #expect(FileManager.default.contents(atPath: scratch("out/tiny.tar")) == FileManager.default.contents(atPath: "\(built.out)/tiny.tar"))
        // The bills of materials too (their facts read anew from the other cache's artifacts);
        // the provenance differs only in when the build ran.
        for suffix in ["spdx.json", "cdx.json"] {
            #expect(FileManager.default.contents(atPath: scratch("out/tiny.\(suffix)")) == FileManager.default.contents(atPath: "\(built.out)/tiny.\(suffix)"))
        }
        #expect(try SupplyChainBuildTests.provenanceWithoutRunTimes(scratch("out/tiny.provenance.json")) == SupplyChainBuildTests.provenanceWithoutRunTimes("\(built.out)/tiny.provenance.json"))
    }

    @Test("--recompress gives the same diff_ids, under other layer cache keys")
    func recompress() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-recompress")
        let servers = try fixtures.serve()
        var options = try Self.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: servers)
        options.reuseDeflateStreams = false
        let plain = try await Builder(options: options).build("tiny")
        #expect(plain.layers.map(\.diffID) == built.report.layers.map(\.diffID))
        #expect(plain.layers.allSatisfy { !$0.reused })
    }

    @Test("created: the lock's date in the config, each history entry and the label, the same bytes twice; SOURCE_DATE_EPOCH overrides it; a new date moves no layer")
    func createdDate() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-created")
        try Self.copy(built.cache, to: scratch("cache"))
        try Self.copy(built.images, to: scratch("Images"))
        let servers = try fixtures.serve()
        func configuration(_ layout: String) throws -> ImageConfiguration {
            try RunCheck.read(try openImage(layout)).1
        }
        func created(_ config: ImageConfiguration) -> [String?] {
            [config.created, config.config?.labels?["org.opencontainers.image.created"]] + (config.history ?? []).map(\.created)
        }

        // The shared build ran with SOURCE_DATE_EPOCH: its date wins over the lock's.
        let resolved = try #require(built.lock.resolved)
        #expect(resolved != BuildTime(seconds: Self.sourceDateEpoch))
        #expect(created(try configuration("\(built.out)/tiny")) == Array(repeating: "2023-11-14T22:13:20Z", count: 7))

        // Without it: the lock's date, twice the same bytes.
        var options = try Self.options(images: scratch("Images"), cache: scratch("cache"), out: scratch("out"), servers: servers)
        options.sourceDateEpoch = nil
        let first = try await Builder(options: options).build("tiny")
        #expect(created(try configuration(scratch("out/tiny"))) == Array(repeating: resolved.rfc3339, count: 7))
        options.outputDirectory = scratch("again")
        let again = try await Builder(options: options).build("tiny")
        #expect(again.manifest == first.manifest)
        #expect(FileManager.default.contents(atPath: scratch("again/tiny.tar")) == FileManager.default.contents(atPath: scratch("out/tiny.tar")))

        // The same lock resolved a day later: the config moves, no layer does (their files are
        // at the epoch, not at the lock's date).
        var later = try Lockfile.load(path: scratch("Images/tiny.lock.json"))
        later.resolved = BuildTime(seconds: resolved.seconds + 86_400)
        try writeFile(scratch("Images/tiny.lock.json"), try later.encoded())
        options.outputDirectory = scratch("later")
        let moved = try await Builder(options: options).build("tiny")
        #expect(moved.layers.allSatisfy { $0.reused })
        #expect(moved.layers.map(\.digest) == first.layers.map(\.digest))
        #expect(moved.manifest != first.manifest)
        #expect(created(try configuration(scratch("later/tiny"))) == Array(repeating: later.resolved?.rfc3339, count: 7))
    }

    @Test("a rebuild reuses every layer; a new app version re-packs the packages layer alone")
    func incremental() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-incremental")
        try Self.copy(built.cache, to: scratch("cache"))

        let servers = try fixtures.serve()
        let rebuilt = try await Builder(options: try Self.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: servers))
            .build("tiny")
        #expect(rebuilt.layers.map(\.reused) == Array(repeating: true, count: 5))
        #expect(rebuilt.fetched == 0)
        #expect(rebuilt.manifest == built.report.manifest)

        // App 1.1 joins the index; the spec is unchanged, the lock made again.
        let index = try Self.makeIndex(at: scratch("index"), appVersions: ["1.0", "1.1"])
        let bumpedServers = try fixtures.serve(index: index.root)
        try Self.copy(built.images, to: scratch("Images"))
        let (lock, _) = try await bumpedServers.locker(images: scratch("Images"), cacheDirectory: scratch("lock-cache")).lock("tiny")
        #expect(lock.wheels.contains { $0.name == "imagegen-fixture-app" && $0.version == "1.1" && $0.component == .packages })
        #expect(lock.debs == built.lock.debs)

        let bumped = try await Builder(
            options: try Self.options(images: scratch("Images"), cache: scratch("cache"), out: scratch("bumped"), servers: bumpedServers)
        ).build("tiny")
        #expect(bumped.layers.map(\.component) == built.report.layers.map(\.component))
        #expect(bumped.layers.filter { !$0.reused }.map(\.component) == ["packages"])
        for (new, old) in zip(bumped.layers, built.report.layers) where new.component != "packages" {
            #expect(new.digest == old.digest, "\(new.component)")
            #expect(new.diffID == old.diffID, "\(new.component)")
        }
        #expect(bumped.layers.first { $0.component == "packages" }?.digest != built.report.layers.first { $0.component == "packages" }?.digest)
        #expect(bumped.manifest != built.report.manifest)
        #expect(bumped.fetched == 1)
    }

    // MARK: Refusals

    @Test("a lock whose spec changed is refused, naming the command to run, and nothing is written")
    func staleLock() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-build-stale")
        try Self.copy(built.images, to: scratch("Images"))
        try writeFile(scratch("Images/tiny.yaml"), Self.spec(ports: [8080]))

        let error = await #expect(throws: (any Error).self) {
            try await Builder(options: try Self.options(images: scratch("Images"), cache: scratch("cache"), out: scratch("out"), servers: nil))
                .build("tiny")
        }
        let text = "\(try #require(error))"
        #expect(text.contains("stale"), "\(text)")
        #expect(text.contains("imagegen lock tiny"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out")))
    }

    @Test("offline with an empty cache fails, saying what is not in the cache, and writes nothing")
    func offlineEmptyCache() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-build-offline")
        var options = try Self.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: nil)
        options.offline = true

        let error = await #expect(throws: ArtifactsError.self) { try await Builder(options: options).build("tiny") }
        let text = try #require(error).description
        #expect(text.contains("not in the cache"), "\(text)")
        #expect(text.contains("run without --offline"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out")))
    }

    @Test("a cached deb changed on disk is dropped and fetched again when a layer is made from it; the image is the same")
    func tamperedArtifact() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-tampered")
        try Self.copy(built.cache, to: scratch("cache"))

        let deb = try #require(built.lock.debs.first { $0.name == "base-passwd" })
        let entry = scratch("cache/artifacts/sha256/\(deb.sha256.encoded)")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: entry)
        var bytes = try #require(FileManager.default.contents(atPath: entry))
        bytes[bytes.count / 2] ^= 0xFF
        let handle = try #require(FileHandle(forUpdatingAtPath: entry))
        try handle.write(contentsOf: bytes)
        try handle.close()
        #expect(try sha256sum(entry).sha256 != deb.sha256.description)
        // Without packed layers, the layers that read it need it again.
        try FileManager.default.removeItem(atPath: scratch("cache/layers"))

        let servers = try fixtures.serve()
        let report = try await Builder(options: try Self.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: servers))
            .build("tiny")
        #expect(report.fetched == 1)
        #expect(report.manifest == built.report.manifest)
        #expect(try sha256sum(entry).sha256 == deb.sha256.description)
    }

    // MARK: The command

    /// The umask is process-wide and inherited, so each build runs in a child process under its
    /// own: neither 000 nor 077 may change a byte of the image (a directory that a package does
    /// not list, such as usr/lib64 behind merged /usr, once took its mode from the umask).
    @Test(
        "imagegen build exits 0, prints the layer table and the image digest, and --json the library's manifest, under umask 000 and 077",
        arguments: ["000", "077"])
    func command(umask: String) async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-cli")
        let servers = try fixtures.serve()

        let result = try run(
            "sh",
            ["-c", "umask \(umask); exec \"$@\"", "sh", imagegenBinary,
             "build", "tiny", "--images", built.images, "--out", scratch("out"), "--cache", scratch("cache"),
             "--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--no-pip-config", "--pip", "python3 -m pip", "--json"],
            environment: ["SOURCE_DATE_EPOCH": "\(Self.sourceDateEpoch)"])
        try #require(result.status == 0, "\(result.stderr)")

        let report = try JSONDecoder().decode(Builder.Report.self, from: Data(result.stdout.utf8))
        #expect(report.manifest == built.report.manifest)
        #expect(report.layers.map(\.digest) == built.report.layers.map(\.digest))
        #expect(report.layout == scratch("out/tiny"))

        #expect(result.stderr.contains("component  from      size"), "\(result.stderr)")
        for layer in built.report.layers {
            let row = result.stderr.split(separator: "\n").first { $0.hasPrefix(layer.component + " ") }
            #expect(row?.hasSuffix(layer.digest.description) == true, "\(result.stderr)")
        }
        #expect(result.stderr.contains("image \(built.report.manifest)"), "\(result.stderr)")
        #expect(ImageVerifier().verify(path: scratch("out/tiny.tar")).ok)
    }

    @Test("a build killed with SIGKILL at several points, then run again, gives the complete image with the same digest")
    func crashSafety() async throws {
        let built = try await Built.shared.value
        let fixtures = try Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-build-kill")
        let servers = try fixtures.serve()
        let arguments = [
            "build", "tiny", "--images", built.images, "--out", scratch("out"), "--cache", scratch("cache"),
            "--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--no-pip-config", "--pip", "python3 -m pip", "--quiet",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = "\(Self.sourceDateEpoch)"
        // Kill while fetching, while packing, and while writing the image (one shared cache).
        for delay in [0.3, 1.0, 2.0, 3.5, 5.0] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: imagegenBinary)
            process.arguments = arguments
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let done = DispatchSemaphore(value: 0)
            process.terminationHandler = { _ in done.signal() }
            try process.run()
            if done.wait(timeout: .now() + delay) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                done.wait()
            }
            // Whatever was killed, what carries the final name is whole.
            if FileManager.default.fileExists(atPath: scratch("out/tiny")) {
                #expect(ImageVerifier().verify(path: scratch("out/tiny")).ok, "after a kill at \(delay)s")
            }
        }
        let result = try run(imagegenBinary, arguments + ["--json"], environment: ["SOURCE_DATE_EPOCH": "\(Self.sourceDateEpoch)"])
        try #require(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(Builder.Report.self, from: Data(result.stdout.utf8))
        #expect(report.manifest == built.report.manifest)
        #expect(ImageVerifier().verify(path: scratch("out/tiny")).ok)
        #expect(ImageVerifier().verify(path: scratch("out/tiny.tar")).ok)
        // The cache holds only whole entries: each artifact still hashes to its name.
        let artifacts = try FileManager.default.contentsOfDirectory(atPath: scratch("cache/artifacts/sha256"))
        for name in artifacts where !name.hasPrefix(".") {
            let sum = try run("sha256sum", [scratch("cache/artifacts/sha256/\(name)")])
            #expect(sum.stdout.hasPrefix(name), "\(name)")
        }
    }
}
