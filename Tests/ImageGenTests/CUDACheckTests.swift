import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// cuda-check and `imagegen run-check` on a host without an NVIDIA GPU, as CI is: the program
/// must say "no NVIDIA driver" and exit 2, run-check must refuse drivers that cannot run an
/// image and, as root, run the whole injection path and clean up after itself. The GPU side is
/// proven on a real H100 (docs/gpu.md).
/// Its image tests wait for BuildTests' shared build of `tiny`, so they have that suite's time.
@Suite("cuda-check and run-check without a GPU", .timeLimit(.minutes(8)))
struct CUDACheckTests {
    /// Whether this host has an NVIDIA driver (then "no driver" cannot be asserted).
    static let hostHasDriver = HostDriver.libraries().contains { $0.hasSuffix("/libcuda.so.1") }
        || FileManager.default.fileExists(atPath: "/proc/driver/nvidia/version")

    /// NVIDIA's runtime and NVRTC wheels of cuda-smoke's lock, when the artifact cache holds them.
    static let cachedWheels: [String]? = {
        let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { "\($0)/imagegen" }
            ?? NSHomeDirectory() + "/.cache/imagegen"
        guard let lock = try? Lockfile.load(path: packageRoot + "/Images/cuda-smoke.lock.json") else { return nil }
        let paths = lock.wheels.map { "\(cache)/artifacts/sha256/\($0.sha256.encoded)" }
        return paths.allSatisfy { FileManager.default.fileExists(atPath: $0) } ? paths : nil
    }()

    /// The embedded program, written to a scratch file.
    func program(in scratch: ScratchDirectory) throws -> String {
        try writeFile(scratch("cuda-check"), CUDACheck.program, mode: 0o755)
        return scratch("cuda-check")
    }

    @Test("the program: --help lists every exit status; without a driver it says so and exits 2", .enabled(if: !hostHasDriver))
    func noDriver() throws {
        let scratch = try ScratchDirectory("imagegen-cuda-check")
        let path = try program(in: scratch)
        #expect(String(decoding: CUDACheck.program.prefix(29), as: UTF8.self) == "#!/opt/venv/bin/python3 -I\n# ")

        let help = try run("python3", [path, "--help"])
        #expect(help.status == 0)
        for status in CUDACheck.Status.allCases {
            #expect(help.stdout.contains("\n  \(status.rawValue)  "), "--help does not list exit status \(status.rawValue)")
        }

        let result = try run("env", ["-i", "PATH=/usr/bin:/bin", "python3", path])
        #expect(result.status == CUDACheck.Status.noDriver.rawValue)
        #expect(result.stderr.hasPrefix("cuda-check: no NVIDIA driver found: libcuda.so.1 cannot be loaded ("), "\(result.stderr)")
        #expect(result.stderr.contains("docker run --gpus all"))

        // A Python without ctypes (python3.X-minimal alone, as in BuildTests' image) still gets the verdict.
        let minimal = try run("env", ["-i", "PATH=/usr/bin:/bin", "python3", "-c",
                                      "import sys; sys.modules['ctypes'] = None; sys.argv = ['cuda-check']; "
                                      + "exec(compile(open(\"\(path)\").read(), 'cuda-check', 'exec'), {'__name__': '__main__'})"])
        #expect(minimal.status == CUDACheck.Status.noDriver.rawValue)
        #expect(minimal.stderr.hasPrefix("cuda-check: no NVIDIA driver found: libcuda.so.1 is in neither the library folders nor the linker cache."))

        let bad = try run("python3", [path, "--fast"])
        #expect(bad.status == 1 && bad.stderr == "cuda-check: unexpected argument '--fast' (see --help)\n")
    }

    @Test(
        "with NVIDIA's runtime and NVRTC wheels: their versions, and NVRTC compiles the kernel without a GPU",
        .enabled(if: cachedWheels != nil && !hostHasDriver, "needs cuda-smoke's two wheels in the artifact cache"))
    func withWheels() throws {
        let scratch = try ScratchDirectory("imagegen-cuda-check-wheels")
        let path = try program(in: scratch)
        for wheel in Self.cachedWheels ?? [] {
            let unzip = try run("python3", ["-m", "zipfile", "-e", wheel, scratch("site")])
            try #require(unzip.status == 0, "\(unzip.stderr)")
        }
        let environment = ["PATH": "/usr/bin:/bin", "PYTHONPATH": scratch("site")]
        let compile = try run("python3", [path, "--compile-only"], environment: environment)
        #expect(compile.status == 0, "\(compile.stderr)")
        #expect(compile.stdout.contains("CUDA runtime 12.6 ("))
        #expect(compile.stdout.contains("NVRTC 12.6 ("))
        #expect(compile.stdout.contains("NVRTC compiled axpy for compute_90: "))

        let full = try run("python3", [path], environment: environment)
        #expect(full.status == CUDACheck.Status.noDriver.rawValue)
        #expect(full.stdout.hasPrefix("CUDA runtime 12.6 ("))
    }

    // MARK: In an image

    @Test("an image with CUDA and Python carries /usr/local/bin/cuda-check, executable, byte for byte")
    func inTheImage() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-cuda-check-image")
        let rootfs = try BuildTests.unpack("\(built.out)/tiny", into: scratch("bundle"))
        let bytes = try FileReader.readAll(path: rootfs + CUDACheck.path, limit: 1 << 20)
        #expect(bytes == CUDACheck.program)
        var info = stat()
        #expect(lstat(rootfs + CUDACheck.path, &info) == 0 && info.st_mode & 0o777 == 0o755)
    }

    @Test("run-check refuses drivers that cannot run the image, with the check-host reason")
    func refusals() async throws {
        let built = try await BuildTests.Built.shared.value
        let archive = "\(built.out)/tiny.tar"
        let old = try imagegen(["run-check", archive, "--driver", "418.40.04"])
        #expect(old.status == 1)
        #expect(old.stderr.contains("this host cannot run the image (cannot-run): driver 418.40.04 is older than 525.60.13"), "\(old.stderr)")
        let compat = try imagegen(["run-check", archive, "--driver", "470.57.02"])
        #expect(compat.status == 1)
        #expect(compat.stderr.contains("(forward-compatibility)") && compat.stderr.contains("the image carries no cuda-compat package"))
        let bad = try imagegen(["run-check", archive, "--driver", "five"])
        #expect(bad.status == 64)
        let env = try imagegen(["run-check", archive, "--env", "NOEQUALS"])
        #expect(env.status == 64 && env.stderr.contains("--env 'NOEQUALS': expected NAME=VALUE"))
        let missing = try imagegen(["run-check", "/nonexistent/image.tar", "--driver", "580.65.06"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/image.tar: no such file or directory"))
        if !Self.hostHasDriver {
            let none = try imagegen(["run-check", archive])
            #expect(none.status == 1)
            #expect(none.stderr.contains("no NVIDIA driver found: nvidia-smi did not answer"), "\(none.stderr)")
        }
    }

    @Test(
        "run-check as root without a GPU: unpacks, runs cuda-check in a chroot (exit 2, no driver), unmounts and deletes everything",
        .enabled(if: getuid() == 0 && !hostHasDriver, "mounting and chroot need root"))
    func runsInChroot() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-run-check")
        try FileManager.default.createDirectory(atPath: scratch("work"), withIntermediateDirectories: true)
        for image in ["\(built.out)/tiny.tar", "\(built.out)/tiny"] {
            let result = try imagegen(["run-check", image, "--driver", "580.65.06", "--work-dir", scratch("work")])
            #expect(result.status == CUDACheck.Status.noDriver.rawValue, "\(result.stderr)")
            #expect(result.stderr.contains("run-check: NVIDIA_REQUIRE_CUDA cuda>=12.6: full: driver 580.65.06"))
            // BuildTests' image has python3.11-minimal alone: cuda-check answers without ctypes.
            #expect(result.stderr.contains("\ncuda-check: no NVIDIA driver found: libcuda.so.1 is in neither"), "\(result.stderr)")
            #expect(result.stderr.hasSuffix("run-check: /usr/local/bin/cuda-check exited 2\n"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("work")).isEmpty, "the temporary root is left")
            let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mountinfo.contains(scratch.path), "a mount is left under \(scratch.path)")
        }
        let other = try imagegen(["run-check", "\(built.out)/tiny", "--driver", "580.65.06", "--work-dir", scratch("work"), "--",
                                  "/opt/venv/bin/python3", "-c", "import os; print(sorted(os.listdir('/dev')))"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("'null'") && other.stdout.contains("'urandom'"))
        let bare = try imagegen(["run-check", "\(built.out)/tiny.tar", "--no-driver", "--work-dir", scratch("work")])
        #expect(bare.status == CUDACheck.Status.noDriver.rawValue, "\(bare.stderr)")
        #expect(bare.stderr.contains("run-check: no driver: the image runs without the host's NVIDIA devices and libraries"))
        let env = try imagegen(["run-check", "\(built.out)/tiny", "--driver", "580.65.06", "--work-dir", scratch("work"),
                                "--env", "CUDA_VISIBLE_DEVICES=", "--env", "A=b=c", "--", "/opt/venv/bin/python3", "-c",
                                "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES']), os.environ['A'], os.environ['VIRTUAL_ENV'])"])
        #expect(env.stdout == "'' b=c /opt/venv\n", "\(env.stderr)")
        let absent = try imagegen(["run-check", "\(built.out)/tiny", "--driver", "580.65.06", "--work-dir", scratch("work"), "--", "/usr/bin/nothing"])
        #expect(absent.status == 1 && absent.stderr.contains("the image has no /usr/bin/nothing"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("work")).isEmpty)
    }

    @Test(
        "run-check passes SIGTERM on to the command, exits 143 and still cleans up",
        .enabled(if: getuid() == 0 && !hostHasDriver, "mounting and chroot need root"))
    func terminate() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-run-check-term")
        try FileManager.default.createDirectory(atPath: scratch("work"), withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: imagegenBinary)
        process.arguments = ["run-check", "\(built.out)/tiny", "--driver", "580.65.06", "--work-dir", scratch("work"), "--",
                             "/opt/venv/bin/python3", "-c", "import time; print('started', flush=True); time.sleep(120)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("started") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("work")).isEmpty, "the temporary root is left")
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(scratch.path))
    }

    @Test(
        "run-check refuses an image whose /dev is a link, and mounts nothing through it",
        .enabled(if: getuid() == 0, "mounting needs root"))
    func linkedDevices() throws {
        let scratch = try ScratchDirectory("imagegen-run-check-link")
        let fm = FileManager.default
        for folder in ["tree/bin", "outside", "work"] { try fm.createDirectory(atPath: scratch(folder), withIntermediateDirectories: true) }
        try writeFile(scratch("tree/bin/true"), "", mode: 0o755)
        try fm.createSymbolicLink(atPath: scratch("tree/dev"), withDestinationPath: scratch("outside"))
        let pack = try imagegen(["pack", scratch("tree"), "--out", scratch("image"), "--format", "layout", "--tag", "x"])
        try #require(pack.status == 0, "\(pack.stderr)")
        let result = try imagegen(["run-check", scratch("image"), "--driver", "580.65.06", "--work-dir", scratch("work"), "--", "/bin/true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("in the image, /dev is not a folder (a link?); run-check does not write or mount through it"), "\(result.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: scratch("outside")).isEmpty)
        #expect(try fm.contentsOfDirectory(atPath: scratch("work")).isEmpty)
    }

    @Test(
        "run-check says it needs root when it is not",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop it"))
    func needsRoot() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-run-check-user")
        chmod(scratch.path, 0o755)
        _ = try run("cp", ["\(built.out)/tiny.tar", scratch("tiny.tar")])
        chmod(scratch("tiny.tar"), 0o644)
        let result = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", imagegenBinary,
                                                  "run-check", scratch("tiny.tar"), "--driver", "580.65.06"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("run-check needs root"), "\(result.stderr)")
    }
}

/// Whether cuda-smoke's artifacts are in the cache, or the test may fetch them.
let smokeArtifactsAvailable: Bool = {
    if ProcessInfo.processInfo.environment["IMAGEGEN_REAL_IMAGE"] == "1" { return true }
    let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { "\($0)/imagegen" } ?? NSHomeDirectory() + "/.cache/imagegen"
    guard let lock = try? Lockfile.load(path: packageRoot + "/Images/cuda-smoke.lock.json") else { return false }
    return (lock.debs.map(\.sha256) + lock.wheels.map(\.sha256)).allSatisfy {
        FileManager.default.fileExists(atPath: "\(cache)/artifacts/sha256/\($0.encoded)")
    }
}()

/// The real `cuda-smoke` image from `Images/cuda-smoke.lock.json`: built offline when the
/// artifact cache already holds its 51 debs and 2 wheels (a developer's machine after one
/// `imagegen build cuda-smoke`), otherwise only with `IMAGEGEN_REAL_IMAGE=1` (it then fetches
/// about 45 MiB through the host's apt and pip sources).
@Suite(
    "The real cuda-smoke image (offline from a warm cache, or IMAGEGEN_REAL_IMAGE=1)",
    .enabled(if: getuid() == 0 && !CUDACheckTests.hostHasDriver && smokeArtifactsAvailable, "needs root, no GPU, and the artifacts"))
struct SmokeImageTests {
    @Test("imagegen build cuda-smoke: under 60 MiB compressed; cuda-check says no driver (exit 2) and NVRTC compiles", .timeLimit(.minutes(10)))
    func smoke() throws {
        let scratch = try ScratchDirectory("imagegen-smoke")
        let offline = ProcessInfo.processInfo.environment["IMAGEGEN_REAL_IMAGE"] == "1" ? [] : ["--offline"]
        let build = try imagegen(["build", "cuda-smoke", "--images", packageRoot + "/Images", "--out", scratch("out"), "--quiet"] + offline)
        try #require(build.status == 0, "\(build.stderr)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: scratch("out/cuda-smoke.tar"))[.size] as? Int)
        #expect(size < 60 << 20, "the smoke image is \(size) bytes compressed, over 60 MiB")
        #expect(try imagegen(["verify", scratch("out/cuda-smoke.tar")]).status == 0)

        try FileManager.default.createDirectory(atPath: scratch("work"), withIntermediateDirectories: true)
        let check = try imagegen(["run-check", scratch("out/cuda-smoke.tar"), "--driver", "580.65.06", "--work-dir", scratch("work")])
        #expect(check.status == CUDACheck.Status.noDriver.rawValue, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("CUDA runtime 12.6 (/opt/venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12)"))
        #expect(check.stderr.contains("\ncuda-check: no NVIDIA driver found: libcuda.so.1 cannot be loaded"), "\(check.stderr)")
        let compile = try imagegen(["run-check", scratch("out/cuda-smoke"), "--driver", "580.65.06", "--work-dir", scratch("work"), "--",
                                    "/usr/local/bin/cuda-check", "--compile-only"])
        #expect(compile.status == 0, "\(compile.stderr)")
        #expect(compile.stdout.contains("NVRTC compiled axpy for compute_90"))
    }
}
