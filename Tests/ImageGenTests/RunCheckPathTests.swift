import Foundation
import Glibc
@testable import ImageGen
import ImageModel
import Synchronization
import TestSupport
import Testing

/// run-check joins and splits host paths by components (``HostPath``), so a work directory
/// spelled `/tmp/` (as `NSTemporaryDirectory()` is) and device nodes in a folder of their own
/// (`/dev/nvidia-caps/nvidia-cap1`, as on MIG-capable GPUs) land where they belong.
@Suite("run-check's paths: one spelling, nested device nodes", .timeLimit(.minutes(5)))
struct RunCheckPathTests {
    @Test("a path with a trailing, doubled or '.' part is spelled once, and joins and splits by components", arguments: [
        ("/tmp/", "/tmp"), ("/tmp//imagegen-x/", "/tmp/imagegen-x"), ("/tmp/./x//y", "/tmp/x/y"), ("/", "/"), ("//", "/"),
    ])
    func spellings(_ given: String, _ expected: String) {
        let path = HostPath(given)
        #expect(path.path == expected)
        let below = expected == "/" ? "" : expected
        let node = path.appending("imagegen-run-check-1").appending("root").appending(["dev", "nvidia-caps", "nvidia-cap1"])
        #expect(node.path == below + "/imagegen-run-check-1/root/dev/nvidia-caps/nvidia-cap1")
        #expect(node.parent.path == below + "/imagegen-run-check-1/root/dev/nvidia-caps")
        #expect(path.appending("/dev//nvidia0/").path == below + "/dev/nvidia0")
        #expect(HostPath("/").parent.path == "/")
    }

    @Test("a relative work directory is made absolute against the current directory")
    func relative() {
        let current = FileManager.default.currentDirectoryPath
        #expect(HostPath("work/").path == HostPath(current).path + "/work")
        #expect(HostPath.components(of: "dev/./nvidia-caps//nvidia-cap1/") == ["dev", "nvidia-caps", "nvidia-cap1"])
    }

    @Test(
        "device nodes in a folder (nvidia-caps/nvidia-cap1) are bound at their own path, with the work directory spelled with and without a trailing slash",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/sh"), "mounting and chroot need root"),
        arguments: ["", "/", "//"])
    func nestedDeviceNodes(_ trailing: String) throws {
        let scratch = try ScratchDirectory("imagegen-run-check-nodes")
        let fm = FileManager.default
        // A fake /dev: regular files stand in for the nodes; a bind mount shows their content.
        let devices = scratch("dev")
        try fm.createDirectory(atPath: "\(devices)/nvidia-caps", withIntermediateDirectories: true)
        for (name, content) in [("null", ""), ("nvidiactl", "ctl\n"), ("nvidia0", "gpu0\n"), ("nvidia-caps/nvidia-cap1", "cap1\n"),
                                ("nvidia-caps/nvidia-cap2", "cap2\n")] {
            try writeFile("\(devices)/\(name)", content)
        }
        #expect(HostDriver.deviceNames(devices: devices) == ["nvidia-caps/nvidia-cap1", "nvidia-caps/nvidia-cap2", "nvidia0", "nvidiactl"])

        // An image holding the host's /bin/sh and the two libraries it needs.
        for folder in ["tree/bin", "tree/lib/x86_64-linux-gnu", "tree/lib64", "work"] {
            try fm.createDirectory(atPath: scratch(folder), withIntermediateDirectories: true)
        }
        for (host, inTree) in [("/bin/sh", "bin/sh"), ("/lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libc.so.6"),
                               ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2")] {
            try fm.copyItem(atPath: URL(fileURLWithPath: host).resolvingSymlinksInPath().path, toPath: scratch("tree/\(inTree)"))
        }
        let pack = try imagegen(["pack", scratch("tree"), "--out", scratch("image"), "--format", "layout", "--tag", "x"])
        try #require(pack.status == 0, "\(pack.stderr)")

        var options = RunCheck.Options(image: scratch("image"), catalog: try Catalog.builtin())
        options.driver = try DriverVersion(parsing: "580.65.06")
        options.devices = devices + trailing
        options.workDirectory = scratch("work") + trailing
        options.command = ["/bin/sh", "-c", "read a < /dev/nvidia-caps/nvidia-cap1 && read b < /dev/nvidia-caps/nvidia-cap2 && "
            + "read c < /dev/nvidia0 && [ \"$a $b $c\" = 'cap1 cap2 gpu0' ] && exit 42"]
        let lines = Mutex<[String]>([])
        let status = try RunCheck(options: options) { line in lines.withLock { $0.append(line) } }.run()
        #expect(status == 42, "the command did not read the bound nodes: \(lines.withLock { $0 })")
        let shown = HostPath(devices).path
        #expect(lines.withLock { $0 }.contains(
            "driver: device nodes: \(shown)/nvidia-caps/nvidia-cap1 \(shown)/nvidia-caps/nvidia-cap2 \(shown)/nvidia0 \(shown)/nvidiactl"))
        #expect(try fm.contentsOfDirectory(atPath: scratch("work")).isEmpty, "the temporary root is left")
        let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mountinfo.contains(HostPath(scratch.path).path), "a mount is left under \(scratch.path)")
    }
}

/// What the provenance may say about the checkout: never a credential from a clone URL.
@Suite("the provenance's source repository")
struct GitCheckoutTests {
    @Test("a user and token in an origin URL are dropped; other forms are kept as they are")
    func credentials() {
        #expect(GitCheckout.withoutCredentials("https://x-access-token:ghs_abc@github.com/acme/images.git") == "https://github.com/acme/images.git")
        #expect(GitCheckout.withoutCredentials("https://github.com/acme/images.git") == "https://github.com/acme/images.git")
        #expect(GitCheckout.withoutCredentials("https://github.com/acme/a@b.git") == "https://github.com/acme/a@b.git")
        #expect(GitCheckout.withoutCredentials("git@github.com:acme/images.git") == "git@github.com:acme/images.git")
    }
}
