import Artifacts
import ImageModel
import OCI

/// The manifest that keeps one lock's artifacts in a mirror repository (image-spec v1.1,
/// manifest.md, "Guidelines for Artifact Usage"): `artifactType`
/// `application/vnd.imagegen.artifacts.v1+json`, the empty config `{}`, and one layer per
/// distinct artifact of every platform, the blob whose digest is the artifact's SHA-256.
///
/// A registry removes a blob no manifest refers to when it collects garbage; this manifest is
/// what refers to them. Its tag, `NAME-lock-HEX` (the first 32 hex digits of the lock file's
/// SHA-256), is new for every new lock, so a lock mirrored later never takes the tag (and with
/// it the blobs) of one mirrored before. The bytes depend on the lock alone: mirroring a lock
/// again gives the same manifest digest.
public struct ArtifactMirrorManifest: Sendable {
    /// The image name.
    public var image: String
    /// SHA-256 of the lock file's bytes (`sha256sum Images/NAME.lock.json`).
    public var lockSHA256: Digest
    /// The platforms the lock resolves, in its order.
    public var platforms: [String]
    /// Every distinct artifact with the platforms that use it, in the lock's order (first
    /// platform first).
    public var artifacts: [Entry]

    /// One layer: an artifact and where the lock uses it.
    public struct Entry: Hashable, Sendable {
        /// The artifact.
        public var artifact: MirroredArtifact
        /// Its component (`base`, `python`, `cuda`, `packages`, …).
        public var component: String
        /// A deb's architecture; nil for a wheel.
        public var architecture: String?
        /// The platforms that use it, in the lock's order.
        public var platforms: [String]
    }

    /// Annotation keys on each layer and on the manifest.
    public enum Annotation {
        /// `deb` or `wheel`.
        public static let kind = "io.imagegen.artifact.kind"
        /// The package or project name.
        public static let name = "io.imagegen.artifact.name"
        /// The exact version.
        public static let version = "io.imagegen.artifact.version"
        /// The component the artifact belongs to (`base`, `python`, `cuda`, …).
        public static let component = "io.imagegen.artifact.component"
        /// A deb's architecture (`amd64`, `all`).
        public static let architecture = "io.imagegen.artifact.architecture"
        /// The platforms of the lock that use it, comma-separated (`linux/amd64,linux/arm64`).
        public static let platforms = "io.imagegen.artifact.platforms"
        /// On the manifest: the image name.
        public static let image = "io.imagegen.image"
        /// On the manifest: the lock file's SHA-256.
        public static let lockSHA256 = "io.imagegen.lock.sha256"
    }

    /// The manifest of `lock` (of image `image`), whose file hashes to `lockSHA256`.
    public init(image: String, lock: Lockfile, lockSHA256: Digest) {
        self.image = image
        self.lockSHA256 = lockSHA256
        self.platforms = lock.platforms
        var order: [Digest] = []
        var entries: [Digest: Entry] = [:]
        func add(_ artifact: MirroredArtifact, component: String, architecture: String?, platform: String) {
            if entries[artifact.sha256] == nil {
                order.append(artifact.sha256)
                entries[artifact.sha256] = Entry(artifact: artifact, component: component, architecture: architecture, platforms: [])
            }
            if !entries[artifact.sha256]!.platforms.contains(platform) { entries[artifact.sha256]!.platforms.append(platform) }
        }
        for platformLock in lock.perPlatform {
            for deb in platformLock.debs {
                add(MirroredArtifact(deb), component: deb.component.rawValue, architecture: deb.architecture, platform: platformLock.platform)
            }
            for wheel in platformLock.wheels {
                add(MirroredArtifact(wheel), component: wheel.component.rawValue, architecture: nil, platform: platformLock.platform)
            }
        }
        artifacts = order.compactMap { entries[$0] }
    }

    /// `NAME-lock-HEX`.
    public var tag: String { "\(image)-lock-\(lockSHA256.encoded.prefix(32))" }

    /// The empty config (image-spec v1.1, manifest.md, "Guidance for an Empty Descriptor").
    public static let emptyConfig = Descriptor(mediaType: .empty, digest: Digest.of(Array("{}".utf8)), size: 2)

    /// The manifest.
    public var manifest: Manifest {
        let layers = artifacts.map { entry in
            var annotations = [
                AnnotationKey.title: entry.artifact.fileName,
                Annotation.kind: entry.artifact.kind.rawValue,
                Annotation.name: entry.artifact.name,
                Annotation.version: entry.artifact.version,
                Annotation.component: entry.component,
                Annotation.platforms: entry.platforms.joined(separator: ","),
            ]
            if let architecture = entry.architecture { annotations[Annotation.architecture] = architecture }
            return Descriptor(
                mediaType: entry.artifact.mediaType, digest: entry.artifact.sha256, size: entry.artifact.size, annotations: annotations)
        }
        var manifest = Manifest(
            config: Self.emptyConfig, layers: layers,
            annotations: [Annotation.image: image, Annotation.lockSHA256: lockSHA256.description])
        manifest.artifactType = .imagegenArtifacts
        return manifest
    }

    /// The manifest's canonical bytes (sorted keys): what is pushed and hashed.
    public func encoded() throws -> [UInt8] { try CanonicalJSON.encode(manifest) }
}
