import Foundation

/// A content descriptor (image-spec v1.1, descriptor.md).
public struct Descriptor: Codable, Hashable, Sendable {
    /// The media type of the referenced content.
    public var mediaType: MediaType
    /// The digest of the referenced content.
    public var digest: Digest
    /// The size of the referenced content in bytes.
    public var size: Int64
    /// URLs the content may be fetched from.
    public var urls: [String]?
    /// Arbitrary metadata.
    public var annotations: [String: String]?
    /// The content itself, embedded (base64 in JSON); must hash to `digest`.
    public var data: Data?
    /// The platform of a manifest referenced from an index.
    public var platform: Platform?
    /// The type of an artifact when the descriptor references an artifact manifest.
    public var artifactType: MediaType?

    /// A descriptor.
    public init(
        mediaType: MediaType, digest: Digest, size: Int64, annotations: [String: String]? = nil,
        platform: Platform? = nil, artifactType: MediaType? = nil, data: Data? = nil, urls: [String]? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
        self.data = data
        self.urls = urls
    }
}

/// The platform an image runs on (image-spec v1.1, image-index.md "platform").
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    /// CPU architecture, Go's `GOARCH` spelling (`amd64`, `arm64`).
    public var architecture: String
    /// Operating system, Go's `GOOS` spelling (`linux`).
    public var os: String
    /// Operating system version.
    public var osVersion: String?
    /// Required OS features.
    public var osFeatures: [String]?
    /// CPU variant (`v8`).
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// A platform.
    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/amd64`.
    public init(parsing value: String) throws {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw OCIError.invalidValue(name: "platform", value: value, expected: "os/arch[/variant], e.g. linux/amd64")
        }
        self.init(architecture: parts[1], os: parts[0], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// `os/arch[/variant]`.
    public var description: String { [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }

    /// The architecture of the machine this runs on, Go's spelling (`amd64`, `arm64`).
    public static var hostArchitecture: String {
        #if arch(x86_64)
        "amd64"
        #elseif arch(arm64)
        "arm64"
        #else
        "unknown"
        #endif
    }
}
