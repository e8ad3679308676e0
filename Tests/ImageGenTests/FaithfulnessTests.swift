import Foundation
import Glibc
import ImageGen
import ImageModel
import TestSupport
import Testing

/// DESIGN.md decision 9 in the default test run: an image of the host's own packages (repacked,
/// served on 127.0.0.1) is compared with the root Debian's installer makes from the lock's exact
/// versions (`mmdebstrap`, maintainer scripts run), through `scripts/compare-roots.py` and the
/// checked-in allowlist — the same comparison `benchmarks/faithfulness` makes for v2.7.
@Suite("the image is what Debian would have installed", .timeLimit(.minutes(10)))
struct FaithfulnessTests {
    /// Host packages whose maintainer scripts have effects imagegen reproduces: alternatives
    /// (`less`, `mawk`), PAM's common files (`libpam-runtime`, `libpam-modules`), /etc/shells
    /// (`bash`, `dash`), accounts (`base-passwd`, `passwd`, `login`), the CA hash links
    /// (`ca-certificates`); their dependency closure joins them. `coreutils`, `diffutils`,
    /// `libc-bin` (`rm`, `diff`, `ldconfig`: dpkg refuses to run without them), and the rest of
    /// the Essential tools maintainer scripts call (`update-rc.d`, `deb-systemd-helper`), for
    /// mmdebstrap's chroot.
    static let hostPackages = [
        "base-files", "base-passwd", "bash", "dash", "debianutils", "mawk", "libpam-runtime", "libpam-modules", "login",
        "passwd", "util-linux", "less", "ca-certificates", "python3.11-minimal",
        "coreutils", "diffutils", "libc-bin", "findutils", "grep", "sed", "gzip", "perl-base", "init-system-helpers", "apt",
    ]

    /// A Debian base and nothing else: no Python component, no wheels.
    static let spec = """
        name: faithful
        description: the host's own Debian packages, to compare with mmdebstrap's root
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
          packages: [apt, bash, dash, debianutils, mawk, libpam-runtime, libpam-modules, login, passwd, util-linux, less, ca-certificates, python3.11-minimal]
        config:
          tags: [faithful]

        """

    static let compareRoots = "\(packageRoot)/scripts/compare-roots.py"
    static let allowlist = "\(packageRoot)/scripts/debian-faithfulness.allowlist"

    /// Runs `scripts/compare-roots.py`; its exit status and everything it printed.
    static func compare(reference: String, image: String, report: String? = nil, extraAllowlist: String? = nil) throws -> (status: Int32, output: String) {
        let result = try run(
            "python3", [compareRoots, "--reference", reference, "--image", image, "--allowlist", allowlist] + (extraAllowlist.map { ["--allowlist", $0] } ?? [])
                + (report.map { ["--report", $0] } ?? []))
        return (result.status, result.stdout + result.stderr)
    }

    @Test(
        "an image of the host's packages against mmdebstrap's root of the same versions: every difference is in the allowlist",
        .enabled(if: getuid() == 0, "mmdebstrap (root mode) and umoci unpack need root: run the tests as root"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap"), "needs mmdebstrap (scripts/install-deps.sh)"))
    func matchesMmdebstrap() async throws {
        let scratch = try ScratchDirectory("imagegen-faithfulness")
        let repository = try HostDebianRepository(at: scratch("repo"), hostPackages: Self.hostPackages, madeUp: [])
        try FileManager.default.createDirectory(atPath: scratch("index/simple"), withIntermediateDirectories: true)
        let servers = try FixtureServers(repository: repository.root, index: scratch("index"))

        let images = scratch("Images")
        try writeFile("\(images)/faithful.yaml", Self.spec)
        let (lock, _) = try await servers.locker(images: images, cacheDirectory: scratch("lock-cache")).lock("faithful")
        let report = try await Builder(
            options: try BuildTests.options(images: images, cache: scratch("cache"), out: scratch("out"), servers: servers)
        ).build("faithful")
        let rootfs = try BuildTests.unpack(report.layout, into: scratch("bundle"), tag: "faithful")

        // Variant custom installs exactly what --include names: the lock's debs, nothing more;
        // it sets up no merged /usr by itself (usr-is-merged's preinst insists on one), so the
        // merged-usr hook makes the links first, as the essential variant would for bookworm.
        let include = lock.debs.map { "\($0.name)=\($0.version)" }.sorted().joined(separator: ",")
        let reference = scratch("reference.tar")
        let mmdebstrap = try run(
            "mmdebstrap",
            [
                "--quiet", "--mode=root", "--variant=custom", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                "--include=\(include)", "--format=tar", "bookworm", reference, servers.aptSource,
            ])
        try #require(mmdebstrap.status == 0, "mmdebstrap: \(String(mmdebstrap.stderr.suffix(6000)))")

        // The host's repacked ca-certificates lacks the certificate files this host removed since
        // it was installed, which its postinst still lists (the image lists what the store holds).
        try writeFile(
            scratch("repacked.allowlist"),
            "differs /etc/ca-certificates.conf  repacked host package: certificates the host removed since are still listed by its postinst\n")
        let compared = try Self.compare(
            reference: reference, image: rootfs, report: scratch("differences.txt"), extraAllowlist: scratch("repacked.allowlist"))
        if compared.status != 0 {
            // Keep both roots for a look: the scratch directory goes with the test.
            let kept = NSTemporaryDirectory() + "imagegen-faithfulness-failure"
            try? FileManager.default.removeItem(atPath: kept)
            _ = try run("mkdir", ["-p", kept + "/image"])
            _ = try run("cp", ["-a", rootfs + "/.", kept + "/image/"])
            _ = try run("cp", [reference, scratch("differences.txt"), kept + "/"])
            Issue.record("differences the allowlist does not explain (both roots kept in \(kept)):\n\(compared.output)")
        }
    }

    @Test("a difference the allowlist does not explain fails the comparison, and is named")
    func unexplainedDifferenceFails() throws {
        let scratch = try ScratchDirectory("imagegen-faithfulness-unexplained")
        for root in ["reference", "image"] {
            try writeFile(scratch("\(root)/etc/debian_version"), "12.11\n")
        }
        try writeFile(scratch("image/etc/unexplained.conf"), "nobody wrote this\n")
        let compared = try Self.compare(reference: scratch("reference"), image: scratch("image"))
        #expect(compared.status == 1, "\(compared.output)")
        #expect(compared.output.contains("extra /etc/unexplained.conf"), "\(compared.output)")

        // And with the file in both, nothing is left.
        try writeFile(scratch("reference/etc/unexplained.conf"), "nobody wrote this\n")
        let same = try Self.compare(reference: scratch("reference"), image: scratch("image"))
        #expect(same.status == 0, "\(same.output)")
    }
}
