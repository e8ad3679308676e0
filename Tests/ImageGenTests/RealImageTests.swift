import Foundation
import TestSupport
import Testing

/// The real v2.7 image, built from `Images/v2.7.lock.json` through the host's apt and pip
/// sources (about 3 GB the first time) and checked inside a chroot. Opt-in: it needs the
/// internet and root, and takes minutes; run it with
/// `IMAGEGEN_REAL_IMAGE=1 swift test --filter RealImageTests`.
@Suite(
    "The real v2.7 image (opt-in: IMAGEGEN_REAL_IMAGE=1, internet, root)",
    .enabled(if: ProcessInfo.processInfo.environment["IMAGEGEN_REAL_IMAGE"] == "1" && getuid() == 0))
struct RealImageTests {
    @Test("imagegen build v2.7: torch, CUDA, cuDNN, NCCL versions, torch.compile on the CPU, Jupyter, sshd, pip check", .timeLimit(.minutes(60)))
    func v27() throws {
        let scratch = try ScratchDirectory("imagegen-real")
        let build = try run(imagegenBinary, ["build", "v2.7", "--images", packageRoot + "/Images", "--out", scratch("out"), "--quiet"])
        try #require(build.status == 0, "\(build.stderr)")
        let unpack = try run("umoci", ["unpack", "--image", scratch("out/v2.7") + ":v2.7", scratch("bundle")])
        try #require(unpack.status == 0, "\(unpack.stderr)")
        let root = scratch("bundle/rootfs")
        for (source, target) in [("/proc", "proc"), ("/dev", "dev")] {
            #expect(try run("mount", ["--bind", source, "\(root)/\(target)"]).status == 0)
        }
        defer {
            _ = try? run("umount", ["\(root)/dev"])
            _ = try? run("umount", ["\(root)/proc"])
        }
        func inImage(_ script: String) throws -> ProcessResult {
            try run("chroot", [root, "/usr/bin/env", "-i", "PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "/bin/sh", "-c", script])
        }
        let versions = try inImage(
            "python -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.nccl.version())'")
        #expect(versions.stdout == "2.7.0+cu126 12.6 90501 (2, 26, 2)\n", "\(versions.stderr)")
        let compiled = try inImage("python -c 'import torch; f = torch.compile(lambda x: x.sin() + x.cos()); print(f(torch.zeros(2)))'")
        #expect(compiled.stdout.contains("tensor([1., 1.])"), "\(compiled.stderr)")
        #expect(try inImage("jupyter lab --version").stdout.hasPrefix("4."))
        #expect(try inImage("ssh-keygen -A >/dev/null && /usr/sbin/sshd -t").status == 0)
        #expect(try inImage("python -m pip check").status == 0)
        // cuda-check (docs/gpu.md): no driver here, so exit 2 with its message; NVRTC works without one.
        let check = try inImage("/usr/local/bin/cuda-check")
        #expect(check.status == 2 && check.stderr.hasPrefix("cuda-check: no NVIDIA driver found: "), "\(check.stderr)")
        #expect(try inImage("/usr/local/bin/cuda-check --compile-only").stdout.contains("NVRTC compiled axpy for compute_90"))
    }
}
