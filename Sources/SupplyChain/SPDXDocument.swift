import Foundation
import OCI
import Rootfs

/// An SPDX 2.3 JSON document of one platform's image: the image, its operating system, each
/// layer and every locked deb and wheel, with `DESCRIBES` and `CONTAINS` relationships
/// (document → image → layer → package; image → operating system). Deterministic: the
/// namespace is derived from the image digest and the creation time is the image's `created`.
public struct SPDXDocument: Codable, Sendable {
    /// A package (the image, the OS, a layer, a deb or a wheel).
    public struct Package: Codable, Hashable, Sendable {
        /// The element's identifier in the document (`SPDXRef-…`).
        public var SPDXID: String
        /// The name.
        public var name: String
        /// The version (a digest for the image and its layers).
        public var versionInfo: String?
        /// `NOASSERTION`: the repository names no download host (sources come from the host's configuration).
        public var downloadLocation = "NOASSERTION"
        /// False: packages are the unit; their files are not listed.
        public var filesAnalyzed = false
        /// `NOASSERTION`.
        public var supplier: String?
        /// `CONTAINER`, `OPERATING-SYSTEM`, `ARCHIVE` (a layer), `INSTALL` (a deb) or `LIBRARY` (a wheel).
        public var primaryPackagePurpose: String?
        /// The SHA-256 of the artifact, blob or manifest.
        public var checksums: [Checksum]?
        /// What the package declares, as an SPDX expression (``SPDXLicense``).
        public var licenseDeclared: String?
        /// `NOASSERTION`: declarations are reported, not audited.
        public var licenseConcluded: String?
        /// `NOASSERTION`.
        public var copyrightText: String?
        /// A deb's source package and version.
        public var sourceInfo: String?
        /// File name, size, component; a layer's media type and diff_id.
        public var comment: String?
        /// The package URL.
        public var externalRefs: [ExternalReference]?
    }

    /// A checksum.
    public struct Checksum: Codable, Hashable, Sendable {
        /// `SHA256`.
        public var algorithm: String
        /// Lower-case hex.
        public var checksumValue: String
    }

    /// A package URL or other reference.
    public struct ExternalReference: Codable, Hashable, Sendable {
        /// `PACKAGE-MANAGER`.
        public var referenceCategory: String
        /// `purl`.
        public var referenceType: String
        /// The purl.
        public var referenceLocator: String
    }

    /// A relationship.
    public struct Relationship: Codable, Hashable, Sendable {
        /// The element that relates.
        public var spdxElementId: String
        /// `DESCRIBES` or `CONTAINS`.
        public var relationshipType: String
        /// The element related to.
        public var relatedSpdxElement: String
    }

    /// Who made the document and when.
    public struct CreationInfo: Codable, Hashable, Sendable {
        /// The image's `created` time.
        public var created: String
        /// `Tool: imagegen-VERSION`.
        public var creators: [String]
    }

    /// `SPDX-2.3`.
    public var spdxVersion = "SPDX-2.3"
    /// `CC0-1.0`, as SPDX requires.
    public var dataLicense = "CC0-1.0"
    /// The element's identifier in the document (`SPDXRef-…`).
    public var SPDXID = "SPDXRef-DOCUMENT"
    /// The name.
    public var name: String
    /// Derived from the manifest digest: unique per image, the same for every build of it.
    public var documentNamespace: String
    /// Who made the document and when.
    public var creationInfo: CreationInfo
    /// The image.
    public var documentDescribes: [String]
    /// The image, the operating system, the layers, the debs and the wheels.
    public var packages: [Package]
    /// document → image → layers → packages; image → OS → debs.
    public var relationships: [Relationship]
    /// The `LicenseRef-`s the packages' licenses use.
    public var hasExtractedLicensingInfos: [ExtractedLicense]?

    /// The document of `inventory`.
    public init(_ inventory: Inventory) {
        let arch = inventory.architecture
        name = "\(inventory.name) \(inventory.platform)"
        documentNamespace = "https://spdx.org/spdxdocs/imagegen-\(Self.idString(inventory.name))-\(arch)-"
            + DerivedUUID.make(from: inventory.manifest.digest, purpose: "spdx")
        creationInfo = CreationInfo(created: inventory.created.rfc3339, creators: ["Tool: imagegen-\(inventory.toolVersion)"])
        let image = "SPDXRef-Image"
        let os = "SPDXRef-OperatingSystem"
        documentDescribes = [image]
        var packages: [Package] = []
        var relationships = [Relationship(spdxElementId: SPDXID, relationshipType: "DESCRIBES", relatedSpdxElement: image)]
        var references: [String: ExtractedLicense] = [:]

        packages.append(Package(
            SPDXID: image, name: inventory.name, versionInfo: inventory.manifest.digest.description, supplier: "NOASSERTION",
            primaryPackagePurpose: "CONTAINER", checksums: [Checksum(algorithm: "SHA256", checksumValue: inventory.manifest.digest.encoded)],
            licenseDeclared: "NOASSERTION", licenseConcluded: "NOASSERTION", copyrightText: "NOASSERTION",
            comment: "OCI image manifest \(inventory.manifest.digest) (config \(inventory.config)) for \(inventory.platform)"
                + (inventory.tags.isEmpty ? "" : "; tags: \(inventory.tags.joined(separator: ", "))"),
            externalRefs: [ExternalReference(referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: inventory.imagePURL)]))
        let system = inventory.operatingSystem
        packages.append(Package(
            SPDXID: os, name: system.id, versionInfo: system.versionID, supplier: "NOASSERTION", primaryPackagePurpose: "OPERATING-SYSTEM",
            licenseDeclared: "NOASSERTION", licenseConcluded: "NOASSERTION", copyrightText: "NOASSERTION",
            comment: "\(system.id) \(system.versionID) (\(system.codename)): the release the image's debs come from",
            externalRefs: [ExternalReference(
                referenceCategory: "PACKAGE-MANAGER", referenceType: "purl",
                referenceLocator: PackageURL(type: "generic", name: system.id, version: system.versionID, qualifiers: ["distro": system.distroQualifier]).description)]))
        relationships.append(Relationship(spdxElementId: image, relationshipType: "CONTAINS", relatedSpdxElement: os))

        var layerIDs: [String: String] = [:]
        for (index, layer) in inventory.layers.enumerated() {
            let id = "SPDXRef-Layer-\(index + 1)-\(Self.idString(layer.component))"
            layerIDs[layer.component] = id
            packages.append(Package(
                SPDXID: id, name: "layer \(index + 1): \(layer.component)", versionInfo: layer.descriptor.digest.description, supplier: "NOASSERTION",
                primaryPackagePurpose: "ARCHIVE", checksums: [Checksum(algorithm: "SHA256", checksumValue: layer.descriptor.digest.encoded)],
                licenseDeclared: "NOASSERTION", licenseConcluded: "NOASSERTION", copyrightText: "NOASSERTION",
                comment: "\(layer.descriptor.mediaType), \(layer.descriptor.size) bytes, diff_id \(layer.diffID)"))
            relationships.append(Relationship(spdxElementId: image, relationshipType: "CONTAINS", relatedSpdxElement: id))
        }

        for package in inventory.packages {
            let id = "SPDXRef-\(package.kind == .deb ? "Deb" : "Wheel")-\(Self.idString(package.name))-\(Self.idString(package.architecture ?? "py"))"
            let license = SPDXLicense(declared: package.facts?.license, package: package)
            for reference in license.references { references[reference.licenseId] = reference }
            var sourceInfo: String?
            if let facts = package.facts, let source = facts.sourcePackage {
                sourceInfo = "built from Debian source package \(source) \(facts.sourceVersion ?? package.version)"
            }
            packages.append(Package(
                SPDXID: id, name: package.name, versionInfo: package.version, supplier: "NOASSERTION",
                primaryPackagePurpose: package.kind == .deb ? "INSTALL" : "LIBRARY",
                checksums: [Checksum(algorithm: "SHA256", checksumValue: package.sha256.encoded)],
                licenseDeclared: license.expression, licenseConcluded: "NOASSERTION", copyrightText: "NOASSERTION",
                sourceInfo: sourceInfo, comment: "\(package.fileName), \(package.size) bytes, component \(package.component)",
                externalRefs: [ExternalReference(referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: inventory.purl(package))]))
            if let layer = layerIDs[package.component] {
                relationships.append(Relationship(spdxElementId: layer, relationshipType: "CONTAINS", relatedSpdxElement: id))
            }
            if package.kind == .deb {
                relationships.append(Relationship(spdxElementId: os, relationshipType: "CONTAINS", relatedSpdxElement: id))
            }
        }
        self.packages = packages
        self.relationships = relationships
        hasExtractedLicensingInfos = references.isEmpty ? nil : references.values.sorted { $0.licenseId < $1.licenseId }
    }

    /// The document's bytes: sorted keys, indented, a final newline.
    public func encoded() throws -> [UInt8] { Array((try CanonicalJSON.pretty(self) + "\n").utf8) }

    /// `[A-Za-z0-9.-]` only, as SPDX identifiers want (`+` spelled `plus`: `libstdc++6` stays apart from `libstdc--6`).
    static func idString(_ text: String) -> String {
        SPDXLicense.idString(text.replacingOccurrences(of: "+", with: "plus"))
    }
}

/// A UUID-shaped name derived from a digest (version 8, RFC 9562: custom), so documents that
/// need a unique identifier get the same one for the same image.
enum DerivedUUID {
    static func make(from digest: Digest, purpose: String) -> String {
        var bytes = Array(Digest.of(Array("imagegen \(purpose) \(digest)".utf8)).encoded.prefix(32))
        bytes[12] = "8"  // version 8
        let variant = Array("89ab")
        let nibble = Int(String(bytes[16]), radix: 16) ?? 0
        bytes[16] = variant[nibble & 3]
        let text = String(bytes)
        let cut = [8, 12, 16, 20]
        var out = ""
        for (index, character) in text.enumerated() {
            if cut.contains(index) { out.append("-") }
            out.append(character)
        }
        return out
    }
}
