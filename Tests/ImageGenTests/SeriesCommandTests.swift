import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// Series specs and `imagegen new` end to end and offline: a catalog written by the test (torch
/// 2.6.0, 2.7.0, 2.7.1, 2.8.0), tiny wheels of those releases and their CUDA stacks on an index
/// and LockTests' Debian repository, both on 127.0.0.1.
@Suite("Series specs and imagegen new against a local repository and index", .timeLimit(.minutes(6)))
struct SeriesCommandTests {
    /// torch and torchvision of each release, their cuDNN and NCCL, CUDA 12.6 and 12.8, and
    /// the packages `seriesSpec` asks for.
    static let wheels: [WheelIndexFixture.Wheel] = LockTests.wheels + [
        .init(name: "nvidia-cuda-nvrtc-cu12", version: "12.8.93"),
        .init(name: "nvidia-cudnn-cu12", version: "9.5.1.17"), .init(name: "nvidia-cudnn-cu12", version: "9.10.2.21"),
        .init(name: "nvidia-nccl-cu12", version: "2.26.2"), .init(name: "nvidia-nccl-cu12", version: "2.27.3"),
        .init(name: "torch", version: "2.7.0"), .init(name: "torch", version: "2.7.1"), .init(name: "torch", version: "2.8.0"),
        .init(name: "torchvision", version: "0.0.270"), .init(name: "torchvision", version: "0.0.271"),
        .init(name: "torchvision", version: "0.0.280"),
        .init(name: "numpy", version: "2.7.0"), .init(name: "scipy", version: "12.6"),
    ]

    /// A scratch `Images/` with `v2.7.yaml` following the 2.7 series, the catalog as a file,
    /// and (when `served`) the repository and index.
    final class Setup {
        let scratch: ScratchDirectory
        let servers: FixtureServers?
        var images: String { scratch("Images") }
        var catalog: String { scratch("catalog.json") }

        init(served: Bool) throws {
            scratch = try ScratchDirectory("imagegen-series")
            try writeFile(scratch("Images/v2.7.yaml"), seriesSpec())
            try writeCatalog(seriesCatalog(), to: scratch("catalog.json"))
            if served {
                let repository = try DebianRepositoryFixture(at: scratch("repo"), packages: LockTests.packages)
                let index = try WheelIndexFixture(at: scratch("index"), wheels: SeriesCommandTests.wheels)
                servers = try FixtureServers(repository: repository.root, index: index.root)
            } else {
                servers = nil
            }
        }

        /// `imagegen ARGUMENTS --images … --catalog …`, with the sources flags when served.
        func imagegen(_ arguments: [String], sources: Bool = true) throws -> ProcessResult {
            var all = arguments + ["--images", images, "--catalog", catalog]
            if sources, let servers {
                all += ["--apt-sources", servers.aptSource, "--index-url", servers.indexURL, "--pip", "python3 -m pip --isolated",
                        "--cache", scratch("cache")]
            }
            return try run(imagegenBinary, all, environment: ["PIP_CONFIG_FILE": "/dev/null"])
        }

        /// The names in `Images/`, sorted.
        var files: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []).sorted() }
    }

    @Test("a lock of torch 2.7.0 is stale once the catalog knows 2.7.1; update moves it and says so; then it is fresh")
    func update() async throws {
        let setup = try Setup(served: true)
        let servers = try #require(setup.servers)
        // Locked while the catalog knew no 2.7.1.
        let older = try servers.locker(images: setup.images, cacheDirectory: setup.scratch("cache"), catalog: seriesCatalog(without: ["2.7.1"]))
        let (old, path) = try await older.lock("v2.7")
        #expect(old.torchVersion.map { "\($0)" } == "2.7.0")
        #expect(old.components["torch"] == "2.7.0 + torchvision")

        let stale = try setup.imagegen(["lock", "--check", "v2.7"], sources: false)
        #expect(stale.status == 1, "\(stale.stderr)")
        #expect(stale.stderr.contains(
            "\(path): stale, it holds torch 2.7.0 but the newest 2.7 release in the catalog is 2.7.1 (the spec follows the 2.7 series, "),
            "\(stale.stderr)")

        // explain describes what the lock holds, and names the newer release.
        let before = try setup.imagegen(["explain", "v2.7"], sources: false)
        #expect(before.stdout.contains("torch: 2.7 series → 2.7.0, the release the lock holds\n"), "\(before.stdout)")
        #expect(before.stdout.contains("the newest 2.7 release in the catalog is 2.7.1, which `imagegen update v2.7` moves the lock to"))

        let update = try setup.imagegen(["update", "v2.7"])
        #expect(update.status == 0, "\(update.stderr)")
        #expect(update.stderr.contains("  torch 2.7 series → 2.7.1, the newest 2.7 release in the catalog (the lock held 2.7.0)\n"), "\(update.stderr)")
        #expect(update.stderr.contains("torch  2.7.0 → 2.7.1"), "\(update.stderr)")
        #expect(update.stderr.contains("torchvision  0.0.270 → 0.0.271"), "\(update.stderr)")
        let new = try Lockfile.load(path: path)
        #expect(new.torchVersion.map { "\($0)" } == "2.7.1")
        #expect(new.components["torch"] == "2.7.1 + torchvision")

        let after = try setup.imagegen(["explain", "v2.7"], sources: false)
        #expect(after.stdout.contains("torch: 2.7 series → 2.7.1, the newest 2.7 release in the catalog\n"), "\(after.stdout)")

        let fresh = try setup.imagegen(["lock", "--check", "v2.7"], sources: false)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stderr.contains("\(path): up to date"))
    }

    @Test("imagegen new v2.8 --from v2.7 writes the spec and locks it as lock would")
    func new() async throws {
        let setup = try Setup(served: true)
        let result = try setup.imagegen(["new", "v2.8", "--from", "v2.7"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(setup.images)/v2.8.yaml from v2.7:\n"), "\(result.stderr)")
        #expect(result.stderr.contains("  CUDA 12.6 → 12.8\n"))
        #expect(result.stderr.contains("wrote \(setup.images)/v2.8.lock.json: "))
        #expect(setup.files == ["v2.7.yaml", "v2.8.lock.json", "v2.8.yaml"])
        let lock = try Lockfile.load(path: "\(setup.images)/v2.8.lock.json")
        #expect(lock.wheels.map { "\($0.name) \($0.version)" } .sorted() == [
            "numpy 2.7.0", "nvidia-cuda-nvrtc-cu12 12.8.93", "nvidia-cuda-runtime-cu12 12.8.90", "nvidia-cudnn-cu12 9.10.2.21",
            "nvidia-nccl-cu12 2.27.3", "scipy 12.6", "torch 2.8.0", "torchvision 0.0.280",
        ])
        let check = try setup.imagegen(["lock", "--check", "v2.8"], sources: false)
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("imagegen new refuses in one line and leaves the directory as it was")
    func refusals() throws {
        let setup = try Setup(served: false)
        for (arguments, message) in [
            (["new", "v2.9", "--from", "v2.7"], "Error: v2.9: torch 2.9 (from the name v2.9) is not a series the catalog knows; known series: 2.6, 2.7, 2.8\n"),
            (["new", "v2.8", "--from", "v2.5"], "Error: \(setup.images)/v2.5.yaml: no such spec; known specs: v2.7\n"),
            (["new", "lab", "--from", "v2.7", "--torch", "2.8.1"], "Error: lab: torch 2.8.1 (--torch) is not in the catalog; known: 2.6.0, 2.7.0, 2.7.1, 2.8.0\n"),
        ] {
            let result = try setup.imagegen(arguments + ["--no-lock"])
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr == message)
            #expect(setup.files == ["v2.7.yaml"])
        }
        let usage = try setup.imagegen(["new", "lab", "--from", "v2.7", "--no-lock"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("'lab' names no torch series"), "\(usage.stderr)")

        // An existing spec stays unless --force.
        try writeFile("\(setup.images)/v2.8.yaml", "# mine\n")
        let exists = try setup.imagegen(["new", "v2.8", "--from", "v2.7", "--no-lock"])
        #expect(exists.status == 1)
        #expect(exists.stderr == "Error: \(setup.images)/v2.8.yaml: already exists; pass --force to replace it, or choose another name\n")
        #expect(String(decoding: FileManager.default.contents(atPath: "\(setup.images)/v2.8.yaml") ?? Data(), as: UTF8.self) == "# mine\n")
        let forced = try setup.imagegen(["new", "v2.8", "--from", "v2.7", "--no-lock", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try SpecLoader(directory: setup.images).load("v2.8").torch.map { "\($0.version)" } == "2.8")
        #expect(setup.files == ["v2.7.yaml", "v2.8.yaml"])
    }

    @Test("a spec that cannot be locked is removed again")
    func lockFails() throws {
        let setup = try Setup(served: false)
        // Nothing listens on port 9: apt cannot read the repository.
        let result = try setup.imagegen([
            "new", "v2.8", "--from", "v2.7", "--apt-sources", "deb [trusted=yes] http://127.0.0.1:9/ ./",
            "--index-url", "http://127.0.0.1:9/simple", "--pip", "python3 -m pip --isolated", "--cache", setup.scratch("cache"),
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(setup.images)/v2.8.yaml from v2.7:"), "\(result.stderr)")
        #expect(setup.files == ["v2.7.yaml"], "\(result.stderr)")
    }

    @Test("a Dockerfile of a series spec is made from the release its lock holds, not a newer one the catalog learned since")
    func dockerfileFollowsTheLock() throws {
        let scratch = try ScratchDirectory("imagegen-series-dockerfile")
        // The shipped v2.7, which follows the 2.7 series, and its lock (2.7.1).
        for file in ["v2.7.yaml", "v2.7.lock.json"] {
            try writeFile(scratch("Images/\(file)"), try String(contentsOfFile: "\(packageRoot)/Images/\(file)", encoding: .utf8))
        }
        let lock = try Lockfile.load(path: scratch("Images/v2.7.lock.json"))
        // A catalog that knows a 2.7.2 after it.
        var catalog = try Catalog.builtin()
        var patch = try #require(catalog.torch(try PEP440Version(parsing: "2.7.1")))
        patch.version = try PEP440Version(parsing: "2.7.2")
        catalog.torch.append(patch)

        var options = Builder.Options(images: scratch("Images"), catalog: catalog, cacheDirectory: "/nonexistent")
        options.sourceDateEpoch = nil
        options.offline = true
        let generator = DockerfileGenerator(options: options, templatePath: nil, imagegenVersion: "0.1.0")
        let dockerfile = try generator.render(try generator.model("v2.7"))
        #expect(dockerfile.contains(#""org.opencontainers.image.version"="2.7.1""#))
        #expect(dockerfile.contains(#""io.imagegen.torch.version"="2.7.1""#))
        #expect(!dockerfile.contains("2.7.2"))
        // Yet lock --check calls the lock stale.
        #expect(try lock.staleness(for: SpecLoader(directory: scratch("Images")).load("v2.7"), catalog: catalog)?.contains("2.7.2") == true)
    }
}
