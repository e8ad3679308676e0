/// An image manifest (image-spec v1.1, manifest.md).
public struct Manifest: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.manifest.v1+json`.
    public var mediaType: MediaType?
    /// The artifact type, for artifacts whose config is the empty descriptor.
    public var artifactType: MediaType?
    /// The image configuration.
    public var config: Descriptor
    /// The layers, base first.
    public var layers: [Descriptor]
    /// A manifest this one refers to (referrers API).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// An OCI image manifest.
    public init(config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = .imageManifest
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (image-spec v1.1, image-index.md); also the layout's `index.json`.
public struct Index: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.index.v1+json`.
    public var mediaType: MediaType?
    /// The artifact type.
    public var artifactType: MediaType?
    /// The manifests, one per platform or tag.
    public var manifests: [Descriptor]
    /// A manifest this one refers to.
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// An OCI image index.
    public init(manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = .imageIndex
        self.manifests = manifests
        self.annotations = annotations
    }
}

/// Annotation keys from image-spec v1.1, annotations.md.
public enum AnnotationKey {
    /// The name of a reference in an image layout's `index.json`.
    public static let refName = "org.opencontainers.image.ref.name"
    /// Date and time the image was built (RFC 3339).
    public static let created = "org.opencontainers.image.created"
    /// Version of the packaged software.
    public static let version = "org.opencontainers.image.version"
    /// Human-readable title.
    public static let title = "org.opencontainers.image.title"
    /// Source revision.
    public static let revision = "org.opencontainers.image.revision"
}
