import Artifacts
import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// `imagegen lock` end to end and offline: a Debian repository and a wheel index made by the
/// test and served on 127.0.0.1, a spec written into a scratch `Images/`.
@Suite("imagegen lock against a local repository and index", .timeLimit(.minutes(6)))
struct LockTests {
    /// Tiny packages named as the Locker asks for them for `smoke`, plus one it must not take.
    static let packages: [DebianRepositoryFixture.Package] = [
        .init(name: "base-files", version: "12.4+deb12u11", architecture: "amd64", control: ["Essential: yes", "Priority: required"]),
        .init(name: "ca-certificates", version: "20230311"),
        .init(name: "python3.11", version: "3.11.2-6+deb12u6", architecture: "amd64", control: ["Depends: libpython3.11-stdlib (= 3.11.2-6+deb12u6)"]),
        .init(name: "libpython3.11-stdlib", version: "3.11.2-6+deb12u6", architecture: "amd64"),
        .init(name: "python3.11-venv", version: "3.11.2-6+deb12u6", architecture: "amd64", control: ["Depends: python3.11 (= 3.11.2-6+deb12u6)"]),
        .init(name: "curl", version: "7.88.1-10+deb12u12", architecture: "amd64"),
    ]

    /// NVIDIA's CUDA 12.6 wheels, and a 12.8 runtime that `~=12.6.0` must pass over.
    static let wheels = TinyImage.cudaWheels

    /// Python 3.11 and the CUDA 12.6 runtime on bookworm: no torch, cuDNN or NCCL.
    static func spec(basePackages: [String] = []) -> String {
        """
        name: smoke
        description: the smallest spec with Python and CUDA
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
          packages: [\(basePackages.joined(separator: ", "))]
        python:
          version: "3.11"
        cuda:
          version: "12.6"
          flavour: runtime

        """
    }

    /// The repository and the index, each served on 127.0.0.1 (``FixtureServers``).
    final class Served {
        let scratch: ScratchDirectory
        let repository: DebianRepositoryFixture
        let index: WheelIndexFixture
        let servers: FixtureServers

        init() throws {
            scratch = try ScratchDirectory("imagegen-lock")
            repository = try DebianRepositoryFixture(at: scratch("repo"), packages: LockTests.packages)
            index = try WheelIndexFixture(at: scratch("index"), wheels: LockTests.wheels)
            servers = try FixtureServers(repository: repository.root, index: index.root)
        }

        var aptSource: String { servers.aptSource }
        var indexURL: String { servers.indexURL }

        /// A scratch `Images/` directory (`name`) holding `spec` as `smoke.yaml`.
        func images(_ name: String, spec: String) throws -> String {
            try writeFile(scratch("\(name)/smoke.yaml"), spec)
            return scratch(name)
        }

        /// A locker over this repository and index.
        func locker(images: String) throws -> Locker {
            try servers.locker(images: images, cacheDirectory: scratch("cache"))
        }
    }

    @Test("the lock names every deb and wheel with its component, size and SHA-256, no URL, the same bytes twice")
    func lock() async throws {
        let served = try Served()
        let images = try served.images("Images", spec: Self.spec())
        let before = BuildTime.now()
        let (lock, path) = try await served.locker(images: images).lock("smoke")
        let after = BuildTime.now()

        #expect(path == "\(images)/smoke.lock.json")
        // When it was resolved, from the clock, to the second.
        let resolved = try #require(lock.resolved)
        #expect(before <= resolved && resolved <= after, "\(resolved.rfc3339)")
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(try Lockfile.load(path: path) == lock)
        #expect(lock.lockVersion == 1)
        #expect(lock.image == "smoke")
        #expect(lock.platform == "linux/amd64")
        #expect(lock.components["python"] == "3.11")
        #expect(lock.components["cuda"] == "12.6 runtime")

        // Each component holds its requests and their closure, less what an earlier one holds;
        // base-files comes in as Essential, curl (asked by nobody) stays out.
        #expect(lock.debs.map { "\($0.component.rawValue) \($0.name)" } == [
            "base base-files", "base ca-certificates",
            "python libpython3.11-stdlib", "python python3.11", "python python3.11-venv",
        ])
        for deb in lock.debs {
            let package = try #require(Self.packages.first { $0.name == deb.name })
            #expect(deb.version == package.version)
            #expect(deb.architecture == package.architecture)
            #expect(deb.fileName == package.fileName)
            #expect(deb.path == (try served.repository.poolPath(package.name, package.version)))
            let expected = try served.repository.expected(deb.path)
            #expect(deb.sha256.description == expected.sha256, "\(deb.name)")
            #expect(deb.size == expected.size, "\(deb.name)")
        }

        #expect(lock.wheels.map { "\($0.component.rawValue) \($0.name) \($0.version)" } == [
            "cuda nvidia-cuda-nvrtc-cu12 12.6.77", "cuda nvidia-cuda-runtime-cu12 12.6.77",
        ])
        #expect(lock.wheels.map(\.fileName) == [
            "nvidia_cuda_nvrtc_cu12-12.6.77-py3-none-any.whl", "nvidia_cuda_runtime_cu12-12.6.77-py3-none-any.whl",
        ])
        for wheel in lock.wheels {
            let expected = try served.index.expected(wheel.fileName)
            #expect(wheel.sha256.description == expected.sha256, "\(wheel.name)")
            #expect(wheel.size == expected.size, "\(wheel.name)")
        }

        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("http"), "the lock holds a URL:\n\(text)")
        #expect(!text.contains("127.0.0.1"))

        // Locked again later to the same artifacts: the date stays, and so do the bytes.
        _ = try await served.servers.locker(
            images: images, cacheDirectory: served.scratch("cache"), resolutionTime: BuildTime(seconds: after.seconds + 3600)
        ).lock("smoke")
        #expect(FileManager.default.contents(atPath: path) == bytes, "a second lock changed the bytes")
    }

    @Test("a Debian package the repository lacks fails, naming it, and writes no lock")
    func missingPackage() async throws {
        let served = try Served()
        let images = try served.images("Images", spec: Self.spec(basePackages: ["no-such-package"]))
        let error = await #expect(throws: ArtifactsError.self) {
            try await served.locker(images: images).lock("smoke")
        }
        let text = try #require(error).description
        #expect(text.contains("no-such-package"), "\(text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: images) == ["smoke.yaml"])
    }

    /// pip is made hermetic through the existing flags: `--isolated` drops the `PIP_*` variables
    /// and the user's configuration, `PIP_CONFIG_FILE=/dev/null` the global and site files.
    @Test("imagegen lock exits 0, says what it wrote on stderr, and writes the library's bytes")
    func command() async throws {
        let served = try Served()
        let library = try served.images("Images", spec: Self.spec())
        let (_, libraryPath) = try await served.locker(images: library).lock("smoke")

        let images = try served.images("CLI", spec: Self.spec())
        let result = try run(
            imagegenBinary,
            ["lock", "smoke", "--images", images, "--apt-sources", served.aptSource, "--index-url", served.indexURL,
             "--pip", "python3 -m pip --isolated", "--cache", served.scratch("cli-cache")],
            environment: ["PIP_CONFIG_FILE": "/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("wrote \(images)/smoke.lock.json: 5 debs, 2 wheels"), "\(result.stderr)")
        // The same lock, but for the date each took from the clock.
        let cli = try Lockfile.load(path: "\(images)/smoke.lock.json")
        #expect(cli.pinsTheSame(as: try Lockfile.load(path: libraryPath)))
        #expect(cli.resolved != nil)
    }

    /// A pyenv shim runs `pyenv rehash` after every `pip install`, a `--dry-run` too, and exits 1
    /// when another rehash holds its lock: two locks at once failed one whose pip had finished.
    @Test("a python3 wrapper on PATH that exits 1 after pip install (a pyenv shim whose rehash fails) does not fail lock; named by its path, it does")
    func interpreterWrapper() async throws {
        let served = try Served()
        try #require(hostPython3.hasPrefix("/"), "python3 did not say where it is")
        let wrapper = served.scratch("bin/python3")
        try writeFile(wrapper, """
            #!/bin/sh
            '\(hostPython3)' "$@"; status=$?
            for word in "$@"; do
              if [ "$word" = install ] && [ $status = 0 ]; then echo "pyenv: cannot rehash: /shims isn't writable" >&2; exit 1; fi
            done
            exit $status

            """, mode: 0o755)
        let path = "\(served.scratch("bin")):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"

        func lock(pip: String, into images: String) throws -> ProcessResult {
            try run(
                imagegenBinary,
                ["lock", "smoke", "--images", images, "--apt-sources", served.aptSource, "--index-url", served.indexURL,
                 "--pip", pip, "--cache", served.scratch("cli-cache")],
                environment: ["PIP_CONFIG_FILE": "/dev/null", "PATH": path])
        }
        let bare = try served.images("Bare", spec: Self.spec())
        let resolved = try lock(pip: "python3 -m pip --isolated", into: bare)
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(bare)/smoke.lock.json"))

        // The wrapper named by its path runs as given, and its exit 1 fails the lock in one line.
        let named = try served.images("Named", spec: Self.spec())
        let failed = try lock(pip: "\(wrapper) -m pip --isolated", into: named)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("pip failed: exit status 1: pyenv: cannot rehash"), "\(failed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: named) == ["smoke.yaml"])
    }
}
