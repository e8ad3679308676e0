import ImageModel
import OCI

/// A store that keeps locked artifacts by their SHA-256 after the upstream sources have
/// dropped them (Debian mirrors keep only the newest version of a package): an OCI registry
/// in practice (`RegistryStore`'s `RegistryArtifactMirror`, `imagegen build --artifacts-from`).
///
/// ``ArtifactFetcher`` asks it after the local cache and before apt and pip. It trusts none of
/// its bytes: every file a mirror hands back is hashed again by ``ArtifactCache`` before it
/// gets an entry's name. This module knows nothing of registries; the protocol is the seam.
public protocol ArtifactMirror: Sendable {
    /// Where the mirror is, as the user named it (`registry.example/team/artifacts`), for
    /// progress lines and errors.
    var location: String { get }

    /// Downloads each of `artifacts` that the mirror holds into its own new file under
    /// `directory` (an empty directory of the cache's `tmp/`), and returns those files by
    /// SHA-256. An artifact the mirror does not hold is left out of the answer (it falls
    /// through to apt and pip); an unreachable mirror, or one that answers with other bytes
    /// than the artifact's digest and size, throws.
    func fetch(_ artifacts: [MirroredArtifact], into directory: String) async throws -> [Digest: String]
}

/// One locked artifact as a mirror stores it: its bytes are named by `sha256`.
public struct MirroredArtifact: Hashable, Sendable {
    /// `deb` or `wheel`.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// A Debian package (`.deb`).
        case deb
        /// A Python wheel (`.whl`).
        case wheel
    }

    /// What kind of file it is.
    public var kind: Kind
    /// The package or project name (`libc6`, `torch`).
    public var name: String
    /// The exact version.
    public var version: String
    /// The file name the lock records (`libc6_2.36-9+deb12u10_amd64.deb`).
    public var fileName: String
    /// The size in bytes.
    public var size: Int64
    /// The SHA-256: the blob digest in a registry.
    public var sha256: Digest

    /// An artifact with every field given.
    public init(kind: Kind, name: String, version: String, fileName: String, size: Int64, sha256: Digest) {
        self.kind = kind
        self.name = name
        self.version = version
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
    }

    /// A locked Debian package.
    public init(_ deb: LockedDeb) {
        self.init(kind: .deb, name: deb.name, version: deb.version, fileName: deb.fileName, size: deb.size, sha256: deb.sha256)
    }

    /// A locked wheel.
    public init(_ wheel: LockedWheel) {
        self.init(kind: .wheel, name: wheel.name, version: wheel.version, fileName: wheel.fileName, size: wheel.size, sha256: wheel.sha256)
    }
}
