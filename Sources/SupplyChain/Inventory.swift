import Foundation
import ImageModel
import OCI
import Rootfs

/// Everything one platform's image holds, as a bill of materials and a provenance statement
/// report it: the image and its layers (from the built image), every deb and wheel with its
/// hash (from the lock), which layer carries it, and what each package declares about itself
/// (from the artifact). Made by `ImageGen`'s `InventoryReader`; the documents are pure
/// functions of it, so one inventory always gives the same bytes.
public struct Inventory: Sendable {
    /// One layer of the image.
    public struct Layer: Sendable, Hashable {
        /// The component it carries (`base`, `cuda`, …, `config`).
        public var component: String
        /// The blob as the manifest names it.
        public var descriptor: Descriptor
        /// The digest of its uncompressed tar.
        public var diffID: Digest

        /// A layer.
        public init(component: String, descriptor: Descriptor, diffID: Digest) {
            self.component = component
            self.descriptor = descriptor
            self.diffID = diffID
        }
    }

    /// A deb or a wheel.
    public struct Package: Sendable, Hashable {
        /// What kind of artifact it is.
        public enum Kind: String, Sendable, Hashable { case deb, wheel }
        /// Deb or wheel.
        public var kind: Kind
        /// The name the lock gives it (a wheel's as its index spells it).
        public var name: String
        /// Its version.
        public var version: String
        /// A deb's architecture (`amd64`, `all`); nil for a wheel.
        public var architecture: String?
        /// The artifact's file name.
        public var fileName: String
        /// The artifact's SHA-256, as locked.
        public var sha256: Digest
        /// The artifact's size in bytes.
        public var size: Int64
        /// The component (and so the layer) it belongs to.
        public var component: String
        /// What the artifact declares; nil when it was not at hand to read.
        public var facts: PackageFacts?

        /// A package.
        public init(
            kind: Kind, name: String, version: String, architecture: String?, fileName: String, sha256: Digest, size: Int64,
            component: String, facts: PackageFacts?
        ) {
            self.kind = kind
            self.name = name
            self.version = version
            self.architecture = architecture
            self.fileName = fileName
            self.sha256 = sha256
            self.size = size
            self.component = component
            self.facts = facts
        }
    }

    /// The operating system the debs come from.
    public struct OperatingSystem: Sendable, Hashable {
        /// `debian`.
        public var id: String
        /// `12`.
        public var versionID: String
        /// `bookworm`.
        public var codename: String

        /// The purl qualifier that ties a deb to its release: `debian-12`.
        public var distroQualifier: String { "\(id)-\(versionID)" }

        /// An operating system.
        public init(id: String, versionID: String, codename: String) {
            self.id = id
            self.versionID = versionID
            self.codename = codename
        }
    }

    /// The spec's name (`v2.7`).
    public var name: String
    /// `linux/amd64`.
    public var platform: String
    /// The image manifest of this platform.
    public var manifest: Descriptor
    /// The image configuration's digest.
    public var config: Digest
    /// The image's `created` time.
    public var created: BuildTime
    /// The spec's tags.
    public var tags: [String]
    /// The layers, base first.
    public var layers: [Layer]
    /// Every locked deb and wheel of this platform, in the lock's order.
    public var packages: [Package]
    /// The operating system.
    public var operatingSystem: OperatingSystem
    /// imagegen's version.
    public var toolVersion: String

    /// An inventory.
    public init(
        name: String, platform: String, manifest: Descriptor, config: Digest, created: BuildTime, tags: [String], layers: [Layer],
        packages: [Package], operatingSystem: OperatingSystem, toolVersion: String
    ) {
        self.name = name
        self.platform = platform
        self.manifest = manifest
        self.config = config
        self.created = created
        self.tags = tags
        self.layers = layers
        self.packages = packages
        self.operatingSystem = operatingSystem
        self.toolVersion = toolVersion
    }

    /// The layer that carries `package`, by component.
    public func layer(of package: Package) -> Layer? { layers.first { $0.component == package.component } }

    /// The platform's architecture (`amd64`).
    public var architecture: String { String(platform.split(separator: "/").dropFirst().first ?? "") }

    /// The package URL of a package: `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12`
    /// (with `&upstream=SOURCE[@VERSION]` when the source package differs) or
    /// `pkg:pypi/NAME@VERSION` (name lower case, `_` as `-`).
    public func purl(_ package: Package) -> String {
        switch package.kind {
        case .deb:
            // `upstream` names the source package (with its version when it differs), which
            // Debian's security tracker files vulnerabilities under: libc6 → glibc.
            var qualifiers = ["arch": package.architecture ?? architecture, "distro": operatingSystem.distroQualifier]
            if let facts = package.facts, let source = facts.sourcePackage {
                let version = facts.sourceVersion ?? package.version
                if source != package.name || version != package.version {
                    qualifiers["upstream"] = version == package.version ? source : "\(source)@\(version)"
                }
            }
            return PackageURL(type: "deb", namespace: operatingSystem.id, name: package.name, version: package.version, qualifiers: qualifiers).description
        case .wheel:
            return PackageURL(type: "pypi", name: PackageURL.pypiName(package.name), version: package.version).description
        }
    }

    /// The image's package URL: `pkg:oci/NAME@sha256:…?arch=ARCH&os=linux`.
    public var imagePURL: String {
        PackageURL(
            type: "oci", name: name.lowercased(), version: manifest.digest.description,
            qualifiers: ["arch": architecture, "os": "linux"]
        ).description
    }
}
