import Foundation
import OCI

/// SLSA provenance v1 of one platform's image, as an in-toto Statement v1: the subject is the
/// image manifest; the build definition holds what decides the bytes (the spec and its
/// digest, the lock's SHA-256, the platform and the options that change bytes) and every
/// artifact the build read, by SHA-256 (and the source revision when the build ran in a git
/// checkout). Only `runDetails.metadata` (when the build started and finished) differs
/// between two builds of one lock; the image never holds it.
public struct Provenance: Codable, Sendable {
    /// An artifact or thing named by digest.
    public struct ResourceDescriptor: Codable, Hashable, Sendable {
        /// The artifact's file name (or `git+…`).
        public var name: String?
        /// A purl, or the git remote at its revision.
        public var uri: String?
        /// Digests by algorithm (`sha256`, `gitCommit`).
        public var digest: [String: String]
        /// The component the artifact belongs to.
        public var annotations: [String: String]?
    }

    /// The statement's subject.
    public struct Subject: Codable, Hashable, Sendable {
        /// The artifact's file name (or `git+…`).
        public var name: String
        /// Digests by algorithm (`sha256`, `gitCommit`).
        public var digest: [String: String]
    }

    /// What was built and from what.
    public struct BuildDefinition: Codable, Sendable {
        /// What the external parameters mean (``Provenance/buildType``).
        public var buildType: String
        /// What decides the bytes: spec, spec digest, lock SHA-256, platform, byte-changing flags.
        public var externalParameters: [String: String]
        /// The image's created time and config digest.
        public var internalParameters: [String: String]
        /// Every artifact read, by SHA-256, and the source revision.
        public var resolvedDependencies: [ResourceDescriptor]
    }

    /// Who built it and when.
    public struct RunDetails: Codable, Sendable {
        /// Builder.
        public struct Builder: Codable, Sendable {
            /// The builder's identity (`IMAGEGEN_BUILDER_ID`).
            public var id: String
            /// `imagegen`: its version.
            public var version: [String: String]
        }
        /// Metadata.
        public struct Metadata: Codable, Sendable {
            /// Unset.
            public var invocationId: String?
            /// When the build started.
            public var startedOn: String?
            /// When the build finished.
            public var finishedOn: String?
        }
        /// Who built it.
        public var builder: Builder
        /// When the build ran; absent when the provenance is made afterwards.
        public var metadata: Metadata?
    }

    /// The SLSA predicate.
    public struct Predicate: Codable, Sendable {
        /// What was built and from what.
        public var buildDefinition: BuildDefinition
        /// Who built it and when.
        public var runDetails: RunDetails
    }

    /// What a build was asked to do, beyond the inventory: the inputs that decide the bytes.
    public struct Parameters: Sendable {
        /// The spec's path as given (`Images/v2.7.yaml`).
        public var specPath: String
        /// The spec's digest, as the lock records it.
        public var specDigest: Digest
        /// The lock file's SHA-256.
        public var lockSHA256: Digest
        /// Options that change the image's bytes, by name (`compression`, `source-date-epoch`, …).
        public var options: [String: String]
        /// The source checkout's commit, when the spec lives in a git checkout.
        public var revision: String?
        /// The checkout's `origin` URL, when it has one.
        public var repository: String?
        /// The builder's identity (`IMAGEGEN_BUILDER_ID`, e.g. a CI workflow's URL).
        public var builderID: String
        /// When the build started and finished; nil when the provenance is made afterwards.
        public var started: BuildTime?
        /// See `started`.
        public var finished: BuildTime?

        /// Parameters.
        public init(
            specPath: String, specDigest: Digest, lockSHA256: Digest, options: [String: String], revision: String?, repository: String?,
            builderID: String, started: BuildTime? = nil, finished: BuildTime? = nil
        ) {
            self.specPath = specPath
            self.specDigest = specDigest
            self.lockSHA256 = lockSHA256
            self.options = options
            self.revision = revision
            self.repository = repository
            self.builderID = builderID
            self.started = started
            self.finished = finished
        }
    }

    /// The build type: what the external parameters mean (docs/supply-chain.md).
    public static let buildType = "https://imagegen.invalid/provenance/build-type/v1"
    /// The builder id when nothing names one.
    public static let localBuilder = "https://imagegen.invalid/builder/local"

    /// `https://in-toto.io/Statement/v1`.
    public var type = "https://in-toto.io/Statement/v1"
    /// The image manifest, by digest.
    public var subject: [Subject]
    /// `https://slsa.dev/provenance/v1`.
    public var predicateType = "https://slsa.dev/provenance/v1"
    /// The SLSA provenance.
    public var predicate: Predicate

    enum CodingKeys: String, CodingKey {
        case type = "_type"
        case subject, predicateType, predicate
    }

    /// The statement for `inventory` built with `parameters`.
    public init(_ inventory: Inventory, parameters: Parameters) {
        let tags = inventory.tags.isEmpty ? "" : ":" + inventory.tags[0]
        subject = [Subject(name: "imagegen/\(inventory.name)\(tags)", digest: ["sha256": inventory.manifest.digest.encoded])]
        var external = parameters.options
        external["image"] = inventory.name
        external["spec"] = parameters.specPath
        external["specDigest"] = parameters.specDigest.description
        external["lockSHA256"] = parameters.lockSHA256.description
        external["platform"] = inventory.platform
        var dependencies = inventory.packages.map { package in
            ResourceDescriptor(
                name: package.fileName, uri: inventory.purl(package), digest: ["sha256": package.sha256.encoded],
                annotations: ["component": package.component])
        }
        if let revision = parameters.revision {
            let location = parameters.repository ?? "local"
            dependencies.append(ResourceDescriptor(
                name: "git+\(location)", uri: parameters.repository.map { "git+\($0)@\(revision)" }, digest: ["gitCommit": revision]))
        }
        let metadata: RunDetails.Metadata? = parameters.started == nil && parameters.finished == nil
            ? nil : RunDetails.Metadata(startedOn: parameters.started?.rfc3339, finishedOn: parameters.finished?.rfc3339)
        predicate = Predicate(
            buildDefinition: BuildDefinition(
                buildType: Self.buildType, externalParameters: external,
                internalParameters: ["created": inventory.created.rfc3339, "config": inventory.config.description],
                resolvedDependencies: dependencies),
            runDetails: RunDetails(builder: .init(id: parameters.builderID, version: ["imagegen": inventory.toolVersion]), metadata: metadata))
    }

    /// The statement's bytes: sorted keys, indented, a final newline.
    public func encoded() throws -> [UInt8] { Array((try CanonicalJSON.pretty(self) + "\n").utf8) }
}
