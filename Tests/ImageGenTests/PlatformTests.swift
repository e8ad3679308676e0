import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// linux/arm64 beside linux/amd64, the way a user gets it: specs that list platforms, locked and
/// built with the `imagegen` command against a Debian repository on 127.0.0.1 whose
/// `imagegen-fixture-hello` package holds a static program the test compiles for each
/// architecture (Debian's cross compiler for arm64); the index handed to skopeo, umoci and
/// docker-registry, and the arm64 program run under `qemu-aarch64-static` in a chroot.
@Suite("linux/arm64 beside linux/amd64: one index, built here, the arm64 image run under QEMU", .timeLimit(.minutes(6)))
struct PlatformTests {
    /// Prints the machine the kernel (or QEMU) reports: `imagegen-hello on aarch64`.
    static let helloSource = """
        #include <stdio.h>
        #include <sys/utsname.h>
        int main(void) {
            struct utsname name;
            if (uname(&name) != 0) return 1;
            printf("imagegen-hello on %s\\n", name.machine);
            return 0;
        }
        """

    static let sourceDateEpoch = "1700000000"

    /// A static program from `helloSource`, made by `compiler`.
    static func compile(_ compiler: String, in scratch: String) throws -> [UInt8] {
        try writeFile("\(scratch)/hello.c", helloSource)
        let output = "\(scratch)/hello-\(compiler)"
        let result = try run(compiler, ["-static", "-O2", "-o", output, "\(scratch)/hello.c"])
        guard result.status == 0 else { throw FixtureError(message: "\(compiler): \(result.stderr)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// `NAME.yaml`: the hello package on a minimal bookworm, for `platforms` (nil: the key is
    /// left out and `architecture` is the base's).
    static func spec(_ name: String, platforms: [String]?, architecture: String? = nil, package: String = "imagegen-fixture-hello") -> String {
        """
        name: \(name)
        \(platforms.map { "platforms: [\($0.joined(separator: ", "))]" } ?? "")
        base:
          distribution: debian
          release: bookworm
        \(architecture.map { "  architecture: \($0)" } ?? "")
          minimal: true
          packages: [\(package)]
        config:
          tags: [\(name)]
        """
    }

    /// The specs locked and built once per run: `duo` (both platforms), `solo` (amd64 alone, the
    /// same package), `foreign` (arm64, with a package that holds an x86-64 program).
    struct Built: Sendable {
        let scratch: String
        let out: String
        let duo: Builder.Report
        /// The CLI's source, cache and images flags the builds used.
        let sources: [String]

        static let shared = Task { () async throws -> Built in
            let scratch = try runScratchDirectory("imagegen-platforms")
            let amd64 = try compile("gcc", in: scratch)
            let arm64 = try compile("aarch64-linux-gnu-gcc", in: scratch)
            let program = "usr/bin/imagegen-hello"
            let repository = try DebianRepositoryFixture(at: "\(scratch)/repo", packages: [
                .init(name: "imagegen-fixture-hello", version: "1.0", architecture: "amd64", files: [program: amd64]),
                .init(name: "imagegen-fixture-hello", version: "1.0", architecture: "arm64", files: [program: arm64]),
                .init(name: "imagegen-fixture-foreign", version: "1.0", architecture: "arm64", files: [
                    "usr/bin/imagegen-foreign": amd64,
                    // named for its machine: a payload chosen by name at run time, which verify lets be
                    "usr/lib/imagegen-fixture/attach_linux_amd64.so": amd64,
                ]),
            ])
            let server = try LocalHTTPServer(serving: repository.root)
            let images = "\(scratch)/Images"
            try writeFile("\(images)/duo.yaml", spec("duo", platforms: ["linux/amd64", "linux/arm64"]))
            try writeFile("\(images)/solo.yaml", spec("solo", platforms: nil))
            try writeFile("\(images)/foreign.yaml", spec("foreign", platforms: nil, architecture: "arm64", package: "imagegen-fixture-foreign"))
            let sources = ["--apt-sources", "deb [trusted=yes] \(server.baseURL)/ ./", "--cache", "\(scratch)/cache", "--images", images]
            let locked = try run(imagegenBinary, ["lock", "duo", "solo", "foreign"] + sources)
            guard locked.status == 0 else { throw FixtureError(message: "imagegen lock: \(locked.stderr)") }
            var duo: Builder.Report?
            for name in ["duo", "solo", "foreign"] {
                let built = try run(
                    imagegenBinary, ["build", name, "--out", "\(scratch)/out", "--json"] + sources,
                    environment: ["SOURCE_DATE_EPOCH": sourceDateEpoch])
                guard built.status == 0 else { throw FixtureError(message: "imagegen build \(name): \(built.stderr)") }
                if name == "duo" { duo = try JSONDecoder().decode(Builder.Report.self, from: Data(built.stdout.utf8)) }
            }
            server.stop()
            return Built(scratch: scratch, out: "\(scratch)/out", duo: duo!, sources: sources)
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    @Test("the lock holds each platform's packages; the index names a manifest per platform; verify, skopeo and the archive agree")
    func index() async throws {
        let built = try await Built.shared.value
        let lock = try Lockfile.load(path: "\(built.scratch)/Images/duo.lock.json")
        #expect(lock.platforms == ["linux/amd64", "linux/arm64"])
        #expect(lock.forPlatform("linux/arm64")?.debs.map(\.architecture) == ["arm64"])
        #expect(lock.debs.map(\.architecture) == ["amd64"])
        // A lock of one platform has no otherPlatforms key: older locks keep their bytes.
        let solo = try String(contentsOfFile: "\(built.scratch)/Images/solo.lock.json", encoding: .utf8)
        #expect(!solo.contains("otherPlatforms"))

        // index.json → the image index (once per tag) → one manifest per platform, in the spec's order.
        let layout = "\(built.out)/duo"
        let top = try CanonicalJSON.decode(Index.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: "\(layout)/index.json"))), name: "index.json")
        #expect(top.manifests.count == 1)
        #expect(top.manifests[0].mediaType == .imageIndex)
        #expect(top.manifests[0].digest == built.duo.manifest)
        #expect(built.duo.platforms.map(\.platform) == ["linux/amd64", "linux/arm64"])

        let inspected = try run("skopeo", ["inspect", "--raw", "oci:\(layout):duo"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        let manifests = try Self.json(inspected.stdout)["manifests"] as? [[String: Any]] ?? []
        #expect(manifests.compactMap { ($0["platform"] as? [String: Any])?["architecture"] as? String } == ["amd64", "arm64"])
        #expect(manifests.compactMap { $0["digest"] as? String } == built.duo.platforms.map(\.manifest.description))

        for image in [layout, "\(layout).tar"] {
            let verified = try run(imagegenBinary, ["verify", image])
            #expect(verified.status == 0, "\(image): \(verified.stdout) \(verified.stderr)")
        }
        let ociCheck = try run("oci-image-tool", ["validate", "--type", "image", layout])
        #expect(ociCheck.status == 0, "\(ociCheck.stdout) \(ociCheck.stderr)")

        // docker load reads manifest.json: the host's platform (amd64 here).
        let docker = try run("tar", ["-xOf", "\(layout).tar", "manifest.json"])
        let amd64 = try CanonicalJSON.decode(
            Manifest.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(built.duo.platforms[0].manifest.encoded)"))),
            name: "manifest")
        #expect(docker.stdout.contains("blobs/sha256/\(amd64.config.digest.encoded)"), "\(docker.stdout)")
    }

    @Test("build --platform: one platform's image alone, the very manifest the index holds; a platform the lock lacks is refused, nothing written")
    func onePlatform() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-one-platform")
        let one = try run(
            imagegenBinary, ["build", "duo", "--platform", "linux/arm64", "--offline", "--out", scratch("out"), "--json"] + built.sources,
            environment: ["SOURCE_DATE_EPOCH": Self.sourceDateEpoch])
        #expect(one.status == 0, "\(one.stderr)")
        let report = try JSONDecoder().decode(Builder.Report.self, from: Data(one.stdout.utf8))
        #expect(report.platforms.map(\.platform) == ["linux/arm64"])
        #expect(report.manifest == built.duo.platforms[1].manifest)
        let index = try CanonicalJSON.decode(Index.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: scratch("out") + "/duo/index.json"))), name: "index.json")
        #expect(index.manifests.map(\.mediaType) == [.imageManifest])
        #expect(index.manifests.first?.platform?.architecture == "arm64")

        let bad = try run(
            imagegenBinary, ["build", "duo", "--platform", "linux/riscv64", "--offline", "--out", scratch("bad")] + built.sources,
            environment: ["SOURCE_DATE_EPOCH": Self.sourceDateEpoch])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--platform 'linux/riscv64': expected a platform"), "\(bad.stderr)")
        #expect(bad.stderr.contains("resolves: linux/amd64, linux/arm64"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("bad")))
    }

    @Test("adding a platform changes no other platform's layers: duo's amd64 layers are solo's")
    func sameLayers() async throws {
        let built = try await Built.shared.value
        let solo = try RunCheck.read(try openImage("\(built.out)/solo")).0
        let duo = try RunCheck.read(try openImage("\(built.out)/duo"), architecture: "amd64").0
        #expect(duo.layers.map(\.digest) == solo.layers.map(\.digest))
        let arm64 = try RunCheck.read(try openImage("\(built.out)/duo"), architecture: "arm64")
        #expect(arm64.0.layers[0].digest != solo.layers[0].digest)
        #expect(arm64.1.architecture == "arm64")
    }

    @Test("skopeo copies the arm64 image out; its program runs under qemu-aarch64-static in a chroot and says aarch64; dpkg's arch is arm64",
          .enabled(if: getuid() == 0, "chroot needs root"))
    func emulated() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-qemu")
        let copied = try run("skopeo", ["copy", "--override-arch", "arm64", "oci:\(built.out)/duo:duo", "oci:\(scratch("arm64")):arm64"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let config = try RunCheck.read(try openImage(scratch("arm64")), architecture: "arm64").1
        #expect(config.architecture == "arm64")

        let unpacked = try run("umoci", ["unpack", "--image", "\(scratch("arm64")):arm64", scratch("bundle")])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        let root = scratch("bundle") + "/rootfs"
        #expect(try String(contentsOfFile: "\(root)/var/lib/dpkg/arch", encoding: .utf8) == "arm64\n")
        #expect(try String(contentsOfFile: "\(root)/var/lib/dpkg/status", encoding: .utf8).contains("Architecture: arm64"))
        // Without QEMU the kernel refuses the program (no binfmt handler here).
        let copiedQEMU = try run("cp", ["/usr/bin/qemu-aarch64-static", "\(root)/usr/bin/"])
        #expect(copiedQEMU.status == 0, "\(copiedQEMU.stderr)")
        let emulated = try run("chroot", [root, "/usr/bin/qemu-aarch64-static", "/usr/bin/imagegen-hello"])
        #expect(emulated.status == 0, "\(emulated.stderr)")
        #expect(emulated.stdout == "imagegen-hello on aarch64\n")
    }

    @Test("docker load of the multi-platform archive takes this machine's platform, and runs its program",
          .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")))
    func dockerLoad() async throws {
        let built = try await Built.shared.value
        let engine = try DockerEngine()
        defer { engine.stop() }
        let loaded = try await engine.load("\(built.out)/duo.tar")
        #expect(loaded == ["imagegen/duo:duo"])
        let inspected = try engine.docker(["image", "inspect", "--format", "{{.Architecture}} {{.Id}}", "imagegen/duo:duo"])
        let amd64 = try RunCheck.read(try openImage("\(built.out)/duo"), architecture: "amd64").0
        #expect(inspected.stdout == "amd64 \(amd64.config.digest)\n", "\(inspected.stderr)")
        let ran = try engine.docker(["run", "--rm", "--entrypoint", "/usr/bin/imagegen-hello", "imagegen/duo:duo"])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout == "imagegen-hello on x86_64\n")
    }

    @Test("push to docker-registry and pull back keep the index digest; pull writes both platforms")
    func pushPull() async throws {
        let built = try await Built.shared.value
        let scratch = try ScratchDirectory("imagegen-platform-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        let pushed = try run(imagegenBinary, ["push", "\(built.out)/duo", "--to", "\(registry.address)/multi/duo:duo", "--insecure"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        // Each platform's SBOMs and provenance, attached to that platform's manifest.
        for platform in built.duo.platforms {
            #expect(pushed.stderr.contains("attached 3 documents to \(platform.manifest)"), "\(pushed.stderr)")
        }
        let arm64 = try run(imagegenBinary, ["sbom", "--from", "\(registry.address)/multi/duo:duo", "--platform", "linux/arm64", "--insecure"])
        #expect(arm64.status == 0, "\(arm64.stderr)")
        #expect(arm64.stdout == (try String(contentsOfFile: "\(built.out)/duo.linux-arm64.spdx.json", encoding: .utf8)))
        #expect(arm64.stdout.contains("?arch=arm64&distro=debian-12"))
        let checked = try run(SupplyChainBuildTests.python, [
            "\(packageRoot)/scripts/validate-sbom.py", "--lock", "\(built.scratch)/Images/duo.lock.json", "--platform", "linux/arm64",
            "--spdx", "\(built.out)/duo.linux-arm64.spdx.json", "--cyclonedx", "\(built.out)/duo.linux-arm64.cdx.json",
            "--provenance", "\(built.out)/duo.linux-arm64.provenance.json",
        ])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        #expect(pushed.stderr.contains("tag duo: \(built.duo.manifest)"), "\(pushed.stderr)")
        let raw = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.address)/multi/duo:duo"])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(Digest.of(Array(raw.stdout.utf8)) == built.duo.manifest)
        let pulled = try run(imagegenBinary, ["pull", "\(registry.address)/multi/duo:duo", "--out", scratch("pulled"), "--insecure"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let index = try CanonicalJSON.decode(Index.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: scratch("pulled") + "/index.json"))), name: "index.json")
        #expect(index.manifests.map(\.digest) == [built.duo.manifest])
        let verified = try run(imagegenBinary, ["verify", scratch("pulled")])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(verified.stdout.contains("2 manifests") || verified.stderr.contains("2 manifests"), "\(verified.stdout) \(verified.stderr)")
    }

    @Test("verify finds the x86-64 program in the arm64 image, naming the file (not the one named for its machine); run-check refuses an image for another machine")
    func foreignPrograms() async throws {
        let built = try await Built.shared.value
        let verified = try run(imagegenBinary, ["verify", "\(built.out)/foreign"])
        #expect(verified.status == 1)
        #expect(
            (verified.stdout + verified.stderr).contains("1 ELF file for amd64 in an arm64 image (the first: /usr/bin/imagegen-foreign)"),
            "\(verified.stdout) \(verified.stderr)")
        #expect(throws: ImageGenError.self) { try RunCheck.read(try openImage("\(built.out)/foreign")) }
        do {
            _ = try RunCheck.read(try openImage("\(built.out)/foreign"))
        } catch {
            #expect("\(error)".contains("the image is for linux/arm64, not linux/amd64"), "\(error)")
        }
    }
}
