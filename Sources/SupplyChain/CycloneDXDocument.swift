import Foundation
import OCI
import Rootfs

/// A CycloneDX 1.6 JSON bill of materials of one platform's image: the image as the
/// metadata's `container` component; the operating system (`operating-system`), each layer
/// (`file`, with its digest and diff_id) and every locked deb and wheel (`library`, with purl,
/// SHA-256 and license) as components; `dependencies` from the image to its layers and the
/// operating system, and from each layer to the packages it carries. Deterministic: the serial
/// number is derived from the image digest, the timestamp is the image's `created`.
public struct CycloneDXDocument: Codable, Sendable {
    /// A component.
    public struct Component: Codable, Hashable, Sendable {
        /// The component type (`container`, `operating-system`, `file`, `library`, `application`).
        public var type: String
        /// Its reference within the document (a purl, `os:…`, `layer:DIGEST`).
        public var bomRef: String
        /// The name (a wheel's as PEP 503 normalises it).
        public var name: String
        /// The version.
        public var version: String?
        /// A description.
        public var description: String?
        /// The package URL.
        public var purl: String?
        /// The SHA-256.
        public var hashes: [Hash]?
        /// What it declares: an SPDX expression, or a named license with its text.
        public var licenses: [LicenseChoice]?
        /// `imagegen:` facts: component, layer, file, source package, diff_id, …
        public var properties: [Property]?

        enum CodingKeys: String, CodingKey {
            case type, name, version, description, purl, hashes, licenses, properties
            case bomRef = "bom-ref"
        }
    }

    /// A hash.
    public struct Hash: Codable, Hashable, Sendable {
        /// `SHA-256`.
        public var alg = "SHA-256"
        /// Lower-case hex.
        public var content: String
    }

    /// A license: an SPDX expression, or a named license with its text.
    public struct LicenseChoice: Codable, Hashable, Sendable {
        /// Named.
        public struct Named: Codable, Hashable, Sendable {
            /// Text.
            public struct Text: Codable, Hashable, Sendable {
                /// `text/plain`.
                public var contentType = "text/plain"
                /// Lower-case hex.
                public var content: String
            }
            /// The name (a wheel's as PEP 503 normalises it).
            public var name: String
            /// The license's text.
            public var text: Text?
        }
        /// An SPDX license expression.
        public var expression: String?
        /// A named license (a free-text wheel license).
        public var license: Named?
    }

    /// A name-value pair.
    public struct Property: Codable, Hashable, Sendable {
        /// The name (a wheel's as PEP 503 normalises it).
        public var name: String
        /// The value.
        public var value: String
    }

    /// What depends on (here: holds) what.
    public struct Dependency: Codable, Hashable, Sendable {
        /// The component that holds.
        public var ref: String
        /// What it holds.
        public var dependsOn: [String]
    }

    /// The document's metadata.
    public struct Metadata: Codable, Hashable, Sendable {
        /// Tools.
        public struct Tools: Codable, Hashable, Sendable {
            /// The components.
            public var components: [Component]
        }
        /// The image's `created` time.
        public var timestamp: String
        /// imagegen.
        public var tools: Tools
        /// The image.
        public var component: Component
    }

    /// `CycloneDX`.
    public var bomFormat = "CycloneDX"
    /// `1.6`.
    public var specVersion = "1.6"
    /// A `urn:uuid:` derived from the manifest digest.
    public var serialNumber: String
    /// The version.
    public var version = 1
    /// The image and the tool.
    public var metadata: Metadata
    /// The components.
    public var components: [Component]
    /// image → OS and layers; layer → its packages.
    public var dependencies: [Dependency]

    enum CodingKeys: String, CodingKey {
        case bomFormat, specVersion, serialNumber, version, metadata, components, dependencies
        case schema = "$schema"
    }

    /// The document of `inventory`.
    public init(_ inventory: Inventory) {
        serialNumber = "urn:uuid:" + DerivedUUID.make(from: inventory.manifest.digest, purpose: "cyclonedx")
        let imageRef = inventory.imagePURL
        var imageProperties = [
            Property(name: "imagegen:platform", value: inventory.platform),
            Property(name: "imagegen:config", value: inventory.config.description),
        ]
        imageProperties += inventory.tags.map { Property(name: "imagegen:tag", value: $0) }
        metadata = Metadata(
            timestamp: inventory.created.rfc3339,
            tools: Metadata.Tools(components: [Component(type: "application", bomRef: "tool:imagegen", name: "imagegen", version: inventory.toolVersion)]),
            component: Component(
                type: "container", bomRef: imageRef, name: inventory.name, version: inventory.manifest.digest.description, purl: imageRef,
                hashes: [Hash(content: inventory.manifest.digest.encoded)], properties: imageProperties))
        let system = inventory.operatingSystem
        let osRef = "os:\(system.distroQualifier)"
        var components = [Component(
            type: "operating-system", bomRef: osRef, name: system.id, version: system.versionID,
            description: "\(system.id) \(system.versionID) (\(system.codename))",
            properties: [Property(name: "imagegen:distro", value: system.distroQualifier)])]
        var dependencies = [Dependency(ref: imageRef, dependsOn: [osRef] + inventory.layers.map { "layer:\($0.descriptor.digest)" })]
        var held: [String: [String]] = [:]
        for package in inventory.packages {
            let purl = inventory.purl(package)
            let license = SPDXLicense(declared: package.facts?.license, package: package)
            var licenses: [LicenseChoice]?
            if let text = license.text {
                let name = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
                licenses = [LicenseChoice(license: .init(name: String(name.prefix(200)), text: .init(content: text)))]
            } else if license.expression != "NOASSERTION" {
                licenses = [LicenseChoice(expression: license.expression)]
            }
            var properties = [
                Property(name: "imagegen:component", value: package.component),
                Property(name: "imagegen:file", value: package.fileName),
            ]
            if let layer = inventory.layer(of: package) {
                properties.append(Property(name: "imagegen:layer", value: layer.descriptor.digest.description))
                held["layer:\(layer.descriptor.digest)", default: []].append(purl)
            }
            if let source = package.facts?.sourcePackage {
                properties.append(Property(name: "imagegen:source-package", value: "\(source) \(package.facts?.sourceVersion ?? package.version)"))
            }
            components.append(Component(
                type: "library", bomRef: purl, name: package.kind == .wheel ? PackageURL.pypiName(package.name) : package.name,
                version: package.version, purl: purl, hashes: [Hash(content: package.sha256.encoded)], licenses: licenses,
                properties: properties))
        }
        for (index, layer) in inventory.layers.enumerated() {
            let ref = "layer:\(layer.descriptor.digest)"
            components.append(Component(
                type: "file", bomRef: ref, name: "layer \(index + 1): \(layer.component)", version: layer.descriptor.digest.description,
                hashes: [Hash(content: layer.descriptor.digest.encoded)],
                properties: [
                    Property(name: "imagegen:media-type", value: layer.descriptor.mediaType.rawValue),
                    Property(name: "imagegen:size", value: "\(layer.descriptor.size)"),
                    Property(name: "imagegen:diff-id", value: layer.diffID.description),
                ]))
            dependencies.append(Dependency(ref: ref, dependsOn: held[ref] ?? []))
        }
        self.components = components
        self.dependencies = dependencies
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        bomFormat = try container.decode(String.self, forKey: .bomFormat)
        specVersion = try container.decode(String.self, forKey: .specVersion)
        serialNumber = try container.decode(String.self, forKey: .serialNumber)
        version = try container.decode(Int.self, forKey: .version)
        metadata = try container.decode(Metadata.self, forKey: .metadata)
        components = try container.decode([Component].self, forKey: .components)
        dependencies = try container.decode([Dependency].self, forKey: .dependencies)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("http://cyclonedx.org/schema/bom-1.6.schema.json", forKey: .schema)
        try container.encode(bomFormat, forKey: .bomFormat)
        try container.encode(specVersion, forKey: .specVersion)
        try container.encode(serialNumber, forKey: .serialNumber)
        try container.encode(version, forKey: .version)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(components, forKey: .components)
        try container.encode(dependencies, forKey: .dependencies)
    }

    /// The document's bytes: sorted keys, indented, a final newline.
    public func encoded() throws -> [UInt8] { Array((try CanonicalJSON.pretty(self) + "\n").utf8) }
}
