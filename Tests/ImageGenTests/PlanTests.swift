import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// `imagegen plan` on fixture locks: exactly the changed images and layers.
@Suite("imagegen plan")
struct PlanTests {
    static func sha(_ text: String) -> Digest { Digest.of(Array(text.utf8)) }

    static func deb(_ component: String, _ name: String, _ version: String, size: Int64 = 1000) -> LockedDeb {
        LockedDeb(component: ComponentKind(rawValue: component)!, name: name, version: version, architecture: "amd64", fileName: "\(name)_\(version)_amd64.deb",
                  path: "pool/main/\(name).deb", size: size, sha256: sha("\(name) \(version)"))
    }

    static func wheel(_ component: String, _ name: String, _ version: String, size: Int64 = 10_000) -> LockedWheel {
        LockedWheel(component: ComponentKind(rawValue: component)!, name: name, version: version, fileName: "\(name)-\(version)-py3-none-any.whl", size: size, sha256: sha("\(name) \(version)"))
    }

    /// A lock shaped like v2.7's: debs in base, python and tools; wheels in cuda, torch and packages.
    static func lock(_ image: String, torch: String = "2.7.0", libssl: String = "3.0.15-1~deb12u1", cudaRuntime: String = "12.6.77", spec: String = "spec") -> Lockfile {
        Lockfile(
            image: image, specDigest: sha(spec), platform: "linux/amd64", components: ["base": "bookworm"],
            debs: [
                deb("base", "base-passwd", "3.6.1"), deb("base", "libssl3", libssl, size: 2_000_000),
                deb("python", "python3.11", "3.11.2-6+deb12u6", size: 500_000),
                deb("tools", "openssh-server", "1:9.2p1-2+deb12u7", size: 400_000),
            ],
            wheels: [
                wheel("cuda", "nvidia-cuda-runtime-cu12", cudaRuntime, size: 900_000),
                wheel("torch", "torch", torch, size: 800_000_000),
                wheel("packages", "jupyterlab", "4.4.0", size: 12_000_000),
            ])
    }

    static func side(_ locks: Lockfile...) -> [String: ImagePlanner.Input] {
        Dictionary(uniqueKeysWithValues: locks.map { ($0.image, ImagePlanner.Input(spec: nil, lock: $0)) })
    }

    @Test("a torch patch release changes v2.7's torch layer only; a new image is added whole; a removed one is named; the rest is unchanged")
    func fixtureLocks() throws {
        let base = Self.side(Self.lock("v2.7"), Self.lock("v2.6", torch: "2.6.0"), Self.lock("old"))
        let head = Self.side(Self.lock("v2.7", torch: "2.7.1"), Self.lock("v2.6", torch: "2.6.0"), Self.lock("v2.8", torch: "2.8.0"))
        let plan = ImagePlanner.plan(base: base, head: head)
        #expect(plan.map { "\($0.image) \($0.status)" } == ["old removed", "v2.6 unchanged", "v2.7 changed", "v2.8 added"])
        let v27 = try #require(plan.first { $0.image == "v2.7" })
        #expect(v27.changedLayers == ["torch"])
        #expect(v27.layers.first { $0.component == "torch" }?.reasons == ["wheel torch 2.7.0 → 2.7.1"])
        #expect(v27.pushBytes == 800_000_000)
        #expect(v27.buildBytes == v27.layers.reduce(0) { $0 + $1.bytes })
        let v28 = try #require(plan.first { $0.image == "v2.8" })
        #expect(v28.changedLayers == ["base", "python", "cuda", "torch", "packages", "tools", "config"])
        #expect(v28.pushBytes == v28.buildBytes)
        #expect(plan.first { $0.image == "v2.6" }?.pushBytes == 0)
    }

    @Test("platforms: adding arm64 adds its layers and leaves amd64's; a change on one platform is that platform's layer; update's diff says which platform")
    func platforms() throws {
        func multi(_ amd64: Lockfile, _ arm64: Lockfile, spec: String = "two") -> Lockfile {
            var first = amd64, second = arm64
            first.specDigest = Self.sha(spec)
            second.platform = "linux/arm64"
            return Lockfile.combining([first, second])
        }
        let added = ImagePlanner.plan(base: Self.side(Self.lock("v2.15")), head: Self.side(multi(Self.lock("v2.15"), Self.lock("v2.15"))))
        let image = try #require(added.first)
        #expect(image.changedLayers == ["linux/arm64 base", "linux/arm64 python", "linux/arm64 cuda", "linux/arm64 torch",
                                        "linux/arm64 packages", "linux/arm64 tools", "linux/arm64 config"])
        #expect(image.layers.filter { $0.platform == "linux/amd64" }.allSatisfy { !$0.changed })

        let moved = ImagePlanner.plan(
            base: Self.side(multi(Self.lock("v2.15"), Self.lock("v2.15"))), head: Self.side(multi(Self.lock("v2.15"), Self.lock("v2.15", torch: "2.7.1"))))
        #expect(moved.first?.changedLayers == ["linux/arm64 torch"])
        #expect(moved.first?.layers.first { $0.name == "linux/arm64 torch" }?.reasons == ["wheel torch 2.7.0 → 2.7.1"])

        let diff = LockDiff(old: multi(Self.lock("v2.15"), Self.lock("v2.15")), new: multi(Self.lock("v2.15"), Self.lock("v2.15", torch: "2.7.1")))
        #expect(diff.changes.map(\.description) == ["linux/arm64  wheel torch     torch  2.7.0 → 2.7.1"])
    }

    @Test("a Debian security update in base changes base, every deb layer above it (their dpkg status) and nothing else")
    func debUpdate() throws {
        let plan = ImagePlanner.plan(base: Self.side(Self.lock("v2.7")), head: Self.side(Self.lock("v2.7", libssl: "3.0.16-1~deb12u1")))
        let v27 = try #require(plan.first)
        #expect(v27.changedLayers == ["base", "python", "tools"])
        #expect(v27.layers.first { $0.component == "base" }?.reasons == ["deb libssl3:amd64 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1"])
        #expect(v27.layers.first { $0.component == "python" }?.reasons == ["debs below changed (this layer's dpkg status lists them)"])
    }

    @Test("a spec change that touches no artifact changes the image config only")
    func specOnly() throws {
        let plan = ImagePlanner.plan(base: Self.side(Self.lock("v2.7")), head: Self.side(Self.lock("v2.7", spec: "other spec")))
        let v27 = try #require(plan.first)
        #expect(v27.status == .changed)
        #expect(v27.changedLayers == [])
        #expect(v27.pushBytes == 0)
        #expect(v27.reasons.first?.contains("the spec changed") == true)
    }

    @Test("a lock dated anew (a lock that had none, or another resolution) changes the image's created date, no layer")
    func resolvedOnly() throws {
        var dated = Self.lock("v2.7")
        dated.resolved = BuildTime(seconds: 1_796_070_383)
        let plan = ImagePlanner.plan(base: Self.side(Self.lock("v2.7")), head: Self.side(dated))
        let v27 = try #require(plan.first)
        #expect(v27.status == .changed)
        #expect(v27.changedLayers == [])
        #expect(v27.pushBytes == 0)
        #expect(v27.reasons == ["the lock's resolved date changed (none → 2026-11-30T20:26:23Z): the image's created date"])
    }

    @Test("imagegen plan --base REV in a git repository: a table on stderr, the CI matrix on stdout; two lock files work too")
    func command() throws {
        let scratch = try ScratchDirectory("imagegen-plan")
        let images = scratch("repo/Images")
        try writeFile("\(images)/v2.7.lock.json", try Self.lock("v2.7").encoded())
        try writeFile("\(images)/v2.6.lock.json", try Self.lock("v2.6", torch: "2.6.0").encoded())
        for arguments in [["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "locks"]] {
            let git = try run("git", ["-C", scratch("repo")] + arguments)
            #expect(git.status == 0, "\(git.stderr)")
        }
        try writeFile("\(images)/v2.7.lock.json", try Self.lock("v2.7", cudaRuntime: "12.6.85").encoded())

        let result = try run(imagegenBinary, ["plan", "--base", "HEAD", "--images", images, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        struct Matrix: Decodable {
            struct Entry: Decodable { var image: String; var status: String; var layers: [String]; var pushBytes: Int64 }
            var include: [Entry]
        }
        let matrix = try JSONDecoder().decode(Matrix.self, from: Data(result.stdout.utf8))
        #expect(matrix.include.map(\.image) == ["v2.7"])
        #expect(matrix.include.first?.layers == ["cuda"])
        #expect(matrix.include.first?.pushBytes == 900_000)
        // The status is a closed set in the library, its plain name in the JSON.
        #expect(matrix.include.first?.status == "changed")
        #expect(result.stdout.contains(#""status":"changed""#), "\(result.stdout)")
        #expect(result.stderr.contains("cuda: wheel nvidia-cuda-runtime-cu12 12.6.77 → 12.6.85"), "\(result.stderr)")
        #expect(result.stderr.contains("1 of 2 images to build"), "\(result.stderr)")

        let files = try run(imagegenBinary, ["plan", "\(images)/v2.6.lock.json", "\(images)/v2.7.lock.json", "--json"])
        #expect(files.status == 0, "\(files.stderr)")

        let bad = try run(imagegenBinary, ["plan", "--base", "no-such-rev", "--images", images])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("ls-tree --name-only no-such-rev ./ failed with exit status 128: fatal: Not a valid object name no-such-rev"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }
}
