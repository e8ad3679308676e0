import Artifacts
import ImageModel
import OCI
import RegistryStore
import Testing

/// The artifact manifest of a lock, without a registry: layers, annotations, tag, determinism.
@Suite("the artifact mirror's manifest of a lock")
struct ArtifactMirrorManifestTests {
    static func digest(_ seed: String) -> Digest { Digest.of(Array(seed.utf8)) }

    /// A two-platform lock: `base-files` is `all` (one file for both), libc6 is per architecture,
    /// and one wheel is `py3-none-any` (shared).
    static let lock: Lockfile = {
        let shared = LockedDeb(
            component: .base, name: "tzdata", version: "2025b-0+deb12u1", architecture: "all",
            fileName: "tzdata_2025b-0+deb12u1_all.deb", path: "pool/main/t/tzdata/tzdata_2025b-0+deb12u1_all.deb", size: 10, sha256: digest("tzdata"))
        func libc(_ arch: String) -> LockedDeb {
            LockedDeb(
                component: .base, name: "libc6", version: "2.36-9+deb12u10", architecture: arch,
                fileName: "libc6_2.36-9+deb12u10_\(arch).deb", path: "pool/main/g/glibc/libc6_2.36-9+deb12u10_\(arch).deb", size: 20, sha256: digest("libc6 \(arch)"))
        }
        let wheel = LockedWheel(component: .packages, name: "six", version: "1.17.0", fileName: "six-1.17.0-py2.py3-none-any.whl", size: 5, sha256: digest("six"))
        return Lockfile(
            image: "duo", specDigest: digest("spec"), platform: "linux/amd64", components: [:], debs: [shared, libc("amd64")], wheels: [wheel],
            otherPlatforms: [PlatformResolution(platform: "linux/arm64", components: [:], debs: [shared, libc("arm64")], wheels: [wheel])])
    }()

    @Test("one layer per distinct artifact of every platform, annotated; the tag follows the lock's SHA-256; the bytes are the same twice")
    func manifest() throws {
        let lockSHA256 = Self.digest("the lock file")
        let mirror = ArtifactMirrorManifest(image: "duo", lock: Self.lock, lockSHA256: lockSHA256)
        let manifest = mirror.manifest
        #expect(manifest.artifactType == .imagegenArtifacts)
        #expect(manifest.config == ArtifactMirrorManifest.emptyConfig)
        #expect(manifest.config.digest.description == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        #expect(manifest.layers.map { $0.annotations?["org.opencontainers.image.title"] } == [
            "libc6_2.36-9+deb12u10_amd64.deb", "tzdata_2025b-0+deb12u1_all.deb", "six-1.17.0-py2.py3-none-any.whl", "libc6_2.36-9+deb12u10_arm64.deb",
        ])
        #expect(manifest.layers.map { $0.annotations?["io.imagegen.artifact.platforms"] } == [
            "linux/amd64", "linux/amd64,linux/arm64", "linux/amd64,linux/arm64", "linux/arm64",
        ])
        #expect(manifest.layers.map(\.mediaType.rawValue) == [
            "application/vnd.debian.binary-package", "application/vnd.debian.binary-package",
            "application/vnd.imagegen.python-wheel", "application/vnd.debian.binary-package",
        ])
        let wheel = try #require(manifest.layers.first { $0.annotations?["io.imagegen.artifact.kind"] == "wheel" })
        #expect(wheel.annotations?["io.imagegen.artifact.name"] == "six")
        #expect(wheel.annotations?["io.imagegen.artifact.version"] == "1.17.0")
        #expect(wheel.annotations?["io.imagegen.artifact.architecture"] == nil)
        #expect(manifest.annotations == ["io.imagegen.image": "duo", "io.imagegen.lock.sha256": lockSHA256.description])
        #expect(mirror.tag == "duo-lock-\(lockSHA256.encoded.prefix(32))")
        #expect(mirror.platforms == ["linux/amd64", "linux/arm64"])
        #expect(try mirror.encoded() == ArtifactMirrorManifest(image: "duo", lock: Self.lock, lockSHA256: lockSHA256).encoded())
    }
}
