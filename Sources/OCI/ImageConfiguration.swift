/// An image configuration (image-spec v1.1, config.md).
public struct ImageConfiguration: Codable, Hashable, Sendable {
    /// When the image was created (RFC 3339), as ``BuildTime`` decides: `SOURCE_DATE_EPOCH` when
    /// set, else the date the image's lock was resolved (`build`) or the epoch (`pack`).
    public var created: String?
    /// Who built the image.
    public var author: String?
    /// CPU architecture (`amd64`).
    public var architecture: String
    /// Operating system (`linux`).
    public var os: String
    /// OS version.
    public var osVersion: String?
    /// OS features.
    public var osFeatures: [String]?
    /// CPU variant.
    public var variant: String?
    /// Execution parameters for a container.
    public var config: ContainerConfig?
    /// The layers' uncompressed digests.
    public var rootfs: RootFS
    /// One entry per layer (and per empty step), base first.
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// A configuration for `platform` with the given layers.
    public init(platform: Platform, created: String?, config: ContainerConfig?, diffIDs: [Digest], history: [History]?) {
        self.created = created
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.config = config
        self.rootfs = RootFS(type: "layers", diffIDs: diffIDs)
        self.history = history
    }

    /// The platform this configuration declares.
    public var platform: Platform { Platform(architecture: architecture, os: os, variant: variant) }
}

/// `rootfs` of an image configuration.
public struct RootFS: Codable, Hashable, Sendable {
    /// Always `layers`.
    public var type: String
    /// The digests of the uncompressed layer tars, base first.
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }
}

/// One step in an image's history.
public struct History: Codable, Hashable, Sendable {
    /// When the step ran (RFC 3339).
    public var created: String?
    /// Who ran it.
    public var author: String?
    /// The command that made it.
    public var createdBy: String?
    /// A comment.
    public var comment: String?
    /// True when the step made no layer.
    public var emptyLayer: Bool?

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }

    /// A history entry.
    public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.comment = comment
        self.emptyLayer = emptyLayer
    }
}

/// The execution parameters of an image (`config` in config.md).
public struct ContainerConfig: Codable, Hashable, Sendable {
    /// `user`, `uid`, `user:group` or `uid:gid`.
    public var user: String?
    /// Ports to expose, `port/tcp` or `port/udp`, each mapped to an empty object.
    public var exposedPorts: [String: EmptyObject]?
    /// `NAME=value` entries.
    public var env: [String]?
    /// The program to run.
    public var entrypoint: [String]?
    /// Default arguments.
    public var cmd: [String]?
    /// Directories meant to hold volumes.
    public var volumes: [String: EmptyObject]?
    /// The working directory.
    public var workingDir: String?
    /// Arbitrary metadata.
    public var labels: [String: String]?
    /// The signal that stops the container.
    public var stopSignal: String?

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case exposedPorts = "ExposedPorts"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case volumes = "Volumes"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case stopSignal = "StopSignal"
    }

    /// An empty configuration.
    public init() {}
}

/// `{}` in JSON: the value of `ExposedPorts` and `Volumes` entries.
public struct EmptyObject: Codable, Hashable, Sendable {
    /// `{}`.
    public init() {}
}
