import Artifacts
import Foundation
import ImageGen
import ImageModel
import Layers
import OCI

/// `tiny`, the small image the build tests make offline: a Debian repository of the host's own
/// installed packages (repacked, so the image really runs) and a wheel index, both made by the
/// test and served on 127.0.0.1; a spec locked against them, then built.
///
/// The repository, the index and one build of `tiny` are made once per run and shared by every
/// test target that needs an image built from a lock (ImageGenTests' `BuildTests` and the
/// suites that start from it, RegistryStoreTests); each test that writes into a cache works on
/// its own copy.
public enum TinyImage {
    /// The host packages the image is made of; their dependencies join them
    /// (``HostPackageRepacker/closure(of:)``): `libc6`, `mawk` (base-files pre-depends on
    /// awk), `libpython3.11-minimal`, `libexpat1`, `zlib1g`, …
    public static let hostPackages = ["base-files", "base-passwd", "python3.11-minimal"]

    /// What the Locker asks for that the image does not need to run: tiny made-up packages.
    /// `python3.11` has the host's interpreter version, which `pyvenv.cfg` records.
    public static func madeUpPackages() throws -> [DebianRepositoryFixture.Package] {
        let python = try HostPackageRepacker.installed("python3.11-minimal").version
        return [
            .init(name: "ca-certificates", version: "20230311"),
            .init(name: "python3.11", version: python, architecture: "amd64", control: ["Depends: python3.11-minimal (= \(python))"]),
            .init(name: "python3.11-venv", version: python, architecture: "amd64", control: ["Depends: python3.11 (= \(python))"]),
        ]
    }

    /// NVIDIA's CUDA 12.6 wheels, and a 12.8 runtime that `~=12.6.0` must pass over.
    public static let cudaWheels: [WheelIndexFixture.Wheel] = [
        .init(name: "nvidia-cuda-runtime-cu12", version: "12.6.77"),
        .init(name: "nvidia-cuda-runtime-cu12", version: "12.8.90"),
        .init(name: "nvidia-cuda-nvrtc-cu12", version: "12.6.77"),
    ]

    /// The app (a console script) and its library, and NVIDIA's CUDA 12.6 wheels.
    public static let wheels = WheelIndexFixture.defaultWheels + cudaWheels

    /// The console script of `imagegen-fixture-app`.
    public static let script = "imagegen-fixture-app"

    /// What the console script of app `version` prints.
    public static func greeting(_ version: String) -> String { "hello from imagegen-fixture-app \(version)" }

    /// Every build's `SOURCE_DATE_EPOCH`.
    public static let sourceDateEpoch: Int64 = 1_700_000_000

    /// Python 3.11, the CUDA 12.6 runtime wheels and the fixture app on bookworm.
    public static func spec(ports: [Int] = []) -> String {
        """
        name: tiny
        description: the host's own Python in a venv, with a console script
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
        python:
          version: "3.11"
        cuda:
          version: "12.6"
          flavour: runtime
        packages: [imagegen-fixture-app]
        config:
          workdir: /workspace
          tags: [tiny]
        \(ports.isEmpty ? "" : "  ports: [\(ports.map(String.init).joined(separator: ", "))]\n")
        """
    }

    /// A wheel index with `appVersions` of the app (each with its console script) besides
    /// ``wheels``.
    public static func makeIndex(at root: String, appVersions: [String]) throws -> WheelIndexFixture {
        let apps = appVersions.filter { $0 != "1.0" }.map {
            WheelIndexFixture.Wheel(name: "imagegen-fixture-app", version: $0, requiresDist: WheelIndexFixture.appRequires, extras: ["cli"])
        }
        let index = try WheelIndexFixture(at: root, wheels: wheels + apps)
        for wheel in index.wheels where wheel.name == "imagegen-fixture-app" {
            try index.addConsoleScript(script, printing: greeting(wheel.version), to: wheel)
        }
        return index
    }

    /// The repository and the index, made once per run.
    public struct Fixtures: Sendable {
        /// The Debian repository.
        public let repository: HostDebianRepository
        /// The wheel index's root.
        public let index: String
        /// The scratch directory holding both.
        public let scratch: String

        /// The one instance of a run.
        public static let shared = Result { () throws -> Fixtures in
            let scratch = try runScratchDirectory("imagegen-build-fixtures")
            let repository = try HostDebianRepository(at: "\(scratch)/repo", hostPackages: hostPackages, madeUp: try madeUpPackages())
            let index = try makeIndex(at: "\(scratch)/index", appVersions: ["1.0"])
            return Fixtures(repository: repository, index: index.root, scratch: scratch)
        }

        /// Serves the repository and `index` (default: the shared one).
        public func serve(index: String? = nil) throws -> FixtureServers {
            try FixtureServers(repository: repository.root, index: index ?? self.index)
        }
    }

    /// `tiny`, locked and built once per run.
    public struct Built: Sendable {
        /// `Images/` with `tiny.yaml` and `tiny.lock.json`.
        public let images: String
        /// The lock.
        public let lock: Lockfile
        /// The cache the build filled (copy it before writing to it).
        public let cache: String
        /// The output directory: `tiny/` and `tiny.tar`.
        public let out: String
        /// The build's report.
        public let report: Builder.Report

        /// The one build of a run.
        public static let shared = Task { () async throws -> Built in
            let fixtures = try Fixtures.shared.get()
            let scratch = try runScratchDirectory("imagegen-build-tiny")
            let servers = try fixtures.serve()
            let images = "\(scratch)/Images"
            try writeFile("\(images)/tiny.yaml", spec())
            let (lock, _) = try await servers.locker(images: images, cacheDirectory: "\(scratch)/lock-cache").lock("tiny")
            let report = try await Builder(options: try options(images: images, cache: "\(scratch)/cache", out: "\(scratch)/out", servers: servers))
                .build("tiny")
            return Built(images: images, lock: lock, cache: "\(scratch)/cache", out: "\(scratch)/out", report: report)
        }
    }

    /// Builder options over `servers` (none: the host's sources, for builds that must not
    /// fetch), with the CLI's default compression, so that its build is comparable.
    public static func options(images: String, cache: String, out: String, servers: FixtureServers?) throws -> Builder.Options {
        var options = Builder.Options(images: images, catalog: try Catalog.builtin(), cacheDirectory: cache)
        options.outputDirectory = out
        if let servers {
            options.aptSources = .lines([servers.aptSource])
            options.pipIndexURL = servers.indexURL
        }
        options.pipUsesHostConfiguration = false
        options.pipCommand = ["python3", "-m", "pip"]
        options.compression = try Compression(.gzip)
        options.sourceDateEpoch = BuildTime(seconds: sourceDateEpoch)
        return options
    }

    /// Copies a directory (a cache, `Images/`) so that a test can change its copy.
    public static func copy(_ source: String, to destination: String) throws {
        let result = try run("cp", ["-a", source, destination])
        guard result.status == 0 else { throw FixtureError(message: result.stderr) }
    }
}

extension FixtureServers {
    /// A locker over this repository and index, with pip isolated from the host's
    /// configuration (whose `find-links` would add wheels the test did not make); its locks
    /// are dated `resolutionTime` (nil: the clock); `catalog` nil is the built-in one.
    public func locker(images: String, cacheDirectory: String, resolutionTime: BuildTime? = nil, catalog: Catalog? = nil) throws -> Locker {
        var options = Locker.Options(images: images, catalog: try catalog ?? Catalog.builtin(), cacheDirectory: cacheDirectory)
        options.resolutionTime = resolutionTime
        options.aptSources = .lines([aptSource])
        options.pipIndexURL = indexURL
        options.pipCommand = ["python3", "-m", "pip"]
        options.pipUsesHostConfiguration = false
        return Locker(options: options)
    }
}
