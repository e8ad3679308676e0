/// A media type, `type "/" subtype` (RFC 6838), with the constants image-spec v1.1 defines
/// (media-types.md) and the Docker schema 2 types that registries still serve.
public struct MediaType: Hashable, Sendable, Comparable, ParsedText {
    /// The full media type string.
    public let rawValue: String

    /// Parses and validates a media type string.
    public init(parsing value: String) throws {
        // restricted-name = restricted-name-first *126restricted-name-chars (RFC 6838 §4.2)
        func valid(_ part: Substring) -> Bool {
            guard let first = part.utf8.first, part.utf8.count <= 127,
                  (first >= 0x30 && first <= 0x39) || (first | 0x20 >= 0x61 && first | 0x20 <= 0x7A)
            else { return false }
            return part.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
                    || "!#$&-^_.+".utf8.contains(c)
            }
        }
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, valid(parts[0]), valid(parts[1]) else {
            throw OCIError.invalidMediaType(value: value)
        }
        self.rawValue = value
    }

    private init(constant: String) { rawValue = constant }

    public var description: String { rawValue }
    public static func < (lhs: MediaType, rhs: MediaType) -> Bool { lhs.rawValue < rhs.rawValue }


    /// `application/vnd.oci.image.index.v1+json`
    public static let imageIndex = MediaType(constant: "application/vnd.oci.image.index.v1+json")
    /// `application/vnd.oci.image.manifest.v1+json`
    public static let imageManifest = MediaType(constant: "application/vnd.oci.image.manifest.v1+json")
    /// `application/vnd.oci.image.config.v1+json`
    public static let imageConfig = MediaType(constant: "application/vnd.oci.image.config.v1+json")
    /// `application/vnd.oci.image.layer.v1.tar`
    public static let layerTar = MediaType(constant: "application/vnd.oci.image.layer.v1.tar")
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    public static let layerTarGzip = MediaType(constant: "application/vnd.oci.image.layer.v1.tar+gzip")
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    public static let layerTarZstd = MediaType(constant: "application/vnd.oci.image.layer.v1.tar+zstd")
    /// `application/vnd.oci.empty.v1+json`
    public static let empty = MediaType(constant: "application/vnd.oci.empty.v1+json")
    /// An SPDX 2.3 JSON document (an SBOM attached as a referrer).
    public static let spdxJSON = MediaType(constant: "application/spdx+json")
    /// A CycloneDX JSON document (an SBOM attached as a referrer).
    public static let cycloneDXJSON = MediaType(constant: "application/vnd.cyclonedx+json")
    /// An in-toto Statement in JSON (SLSA provenance attached as a referrer).
    public static let inTotoJSON = MediaType(constant: "application/vnd.in-toto+json")
    /// The `artifactType` of the manifest that lists a lock's artifacts in an artifact mirror
    /// (`imagegen mirror`, docs/artifact-mirror.md).
    public static let imagegenArtifacts = MediaType(constant: "application/vnd.imagegen.artifacts.v1+json")
    /// A Debian binary package (`.deb`), as IANA registers it: a mirrored deb's blob.
    public static let debianPackage = MediaType(constant: "application/vnd.debian.binary-package")
    /// A Python wheel (`.whl`, a zip): a mirrored wheel's blob. No registered type exists.
    public static let pythonWheel = MediaType(constant: "application/vnd.imagegen.python-wheel")
    /// Docker schema 2 manifest list.
    /// imagegen's record of a layer in a registry layer cache (docs/shared-cache.md).
    public static let imagegenLayerCache = MediaType(constant: "application/vnd.imagegen.layer-cache.v1+json")
    /// The declared facts of the artifacts a cached layer was made from.
    public static let imagegenPackageFacts = MediaType(constant: "application/vnd.imagegen.package-facts.v1+json")
    public static let dockerManifestList = MediaType(constant: "application/vnd.docker.distribution.manifest.list.v2+json")
    /// Docker schema 2 manifest.
    public static let dockerManifest = MediaType(constant: "application/vnd.docker.distribution.manifest.v2+json")
    /// Docker container config.
    public static let dockerConfig = MediaType(constant: "application/vnd.docker.container.image.v1+json")
    /// Docker gzip layer.
    public static let dockerLayerGzip = MediaType(constant: "application/vnd.docker.image.rootfs.diff.tar.gzip")

    /// The compression a layer media type declares, or nil if this is not a layer type.
    public var layerCompression: LayerCompressionKind? {
        switch rawValue {
        case Self.layerTar.rawValue, "application/vnd.oci.image.layer.nondistributable.v1.tar":
            return LayerCompressionKind.none
        case Self.layerTarGzip.rawValue, Self.dockerLayerGzip.rawValue,
             "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
            return .gzip
        case Self.layerTarZstd.rawValue, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
            return .zstd
        default:
            return nil
        }
    }

    /// Whether this is an image index (OCI or Docker manifest list).
    public var isIndex: Bool { self == .imageIndex || self == .dockerManifestList }
    /// Whether this is an image manifest (OCI or Docker schema 2).
    public var isManifest: Bool { self == .imageManifest || self == .dockerManifest }
    /// Whether this is an image configuration (OCI or Docker).
    public var isConfig: Bool { self == .imageConfig || self == .dockerConfig }
}

/// How a layer blob is compressed.
public enum LayerCompressionKind: String, Sendable, CaseIterable, Codable {
    case none
    case gzip
    case zstd

    /// The OCI layer media type for this compression.
    public var mediaType: MediaType {
        switch self {
        case .none: return .layerTar
        case .gzip: return .layerTarGzip
        case .zstd: return .layerTarZstd
        }
    }
}
