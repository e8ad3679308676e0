import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// `imagegen update` offline: a lock made against one repository and index, then updated
/// against newer ones (a Debian update and a CUDA library patch), served on 127.0.0.1.
@Suite("imagegen update", .timeLimit(.minutes(3)))
struct UpdateTests {
    @Test("update shows old → new per package; --dry-run writes nothing; without it the lock is what lock would write")
    func update() async throws {
        let served = try LockTests.Served()
        let images = try served.images("Images", spec: LockTests.spec())
        let (old, path) = try await served.locker(images: images).lock("smoke")
        let oldBytes = try #require(FileManager.default.contents(atPath: path))

        // Newer: ca-certificates (a Debian update) and the CUDA runtime 12.6 patch.
        var packages = LockTests.packages
        packages.removeAll { $0.name == "ca-certificates" }
        packages.append(.init(name: "ca-certificates", version: "20230311+deb12u1"))
        let repository = try DebianRepositoryFixture(at: served.scratch("repo-new"), packages: packages)
        let index = try WheelIndexFixture(at: served.scratch("index-new"), wheels: LockTests.wheels + [.init(name: "nvidia-cuda-runtime-cu12", version: "12.6.85")])
        let servers = try FixtureServers(repository: repository.root, index: index.root)
        let arguments = ["update", "smoke", "--images", images, "--apt-sources", servers.aptSource, "--index-url", servers.indexURL,
                         "--pip", "python3 -m pip --isolated", "--cache", served.scratch("cli-cache")]

        let dry = try run(imagegenBinary, arguments + ["--dry-run"], environment: ["PIP_CONFIG_FILE": "/dev/null"])
        #expect(dry.status == 0, "\(dry.stderr)")
        // The fixture repository is made anew, so its other debs have new hashes: listed as rebuilt.
        #expect(dry.stderr.contains("(rebuilt)"), "\(dry.stderr)")
        #expect(dry.stderr.contains("ca-certificates:all  20230311 → 20230311+deb12u1"), "\(dry.stderr)")
        #expect(dry.stderr.contains("nvidia-cuda-runtime-cu12  12.6.77 → 12.6.85"), "\(dry.stderr)")
        #expect(dry.stderr.contains("not written (--dry-run)"))
        #expect(FileManager.default.contents(atPath: path) == oldBytes)

        let check = try run(imagegenBinary, arguments + ["--check"], environment: ["PIP_CONFIG_FILE": "/dev/null"])
        #expect(check.status == 1, "\(check.stderr)")

        let real = try run(imagegenBinary, arguments + ["--json"], environment: ["PIP_CONFIG_FILE": "/dev/null"])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(real.stderr.contains("wrote \(path)"))
        let new = try Lockfile.load(path: path)
        let upgrades = LockDiff(old: old, new: new).changes.filter { !($0.new ?? "").hasSuffix("(rebuilt)") }
        #expect(upgrades.map(\.name) == ["ca-certificates:all", "nvidia-cuda-runtime-cu12"])
        #expect(new.wheels.first { $0.name == "nvidia-cuda-runtime-cu12" }?.version == "12.6.85")
        // Written by update: dated by its own resolution, not the old lock's.
        #expect(try #require(new.resolved) >= (try #require(old.resolved)))
        let diff = try JSONDecoder().decode([String: LockDiff].self, from: Data(real.stdout.utf8))
        #expect(diff["smoke"]?.changes.count == LockDiff(old: old, new: new).changes.count)

        let again = try run(imagegenBinary, arguments, environment: ["PIP_CONFIG_FILE": "/dev/null"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("already the newest"), "\(again.stderr)")
    }
}
