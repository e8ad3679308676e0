import Foundation
import OCI

/// The image manifests of an image layout or archive, one per platform: the children of the
/// index `index.json` names first, or that one manifest alone.
public struct PlatformManifest: Sendable {
    /// The manifest's descriptor (as the index lists it: with its platform where it has one).
    public var descriptor: Descriptor
    /// The manifest.
    public var manifest: Manifest
    /// Its configuration.
    public var config: ImageConfiguration

    /// `linux/amd64`, from the configuration.
    public var platform: String { "\(config.os)/\(config.architecture)" }

    /// Every platform's manifest of the image `index.json` names first, in the index's order.
    public static func all(in source: any ImageSource) throws -> [PlatformManifest] {
        let index = try source.index()
        guard let top = index.manifests.first else {
            throw ImageGenError.invalidInput(path: source.path, reason: "index.json lists no manifest")
        }
        var descriptors = [top]
        if top.mediaType.isIndex {
            let nested = try CanonicalJSON.decode(Index.self, from: try source.blob(top.digest), name: "\(source.path): image index \(top.digest.short)")
            descriptors = nested.manifests.filter(\.mediaType.isManifest)
            guard !descriptors.isEmpty else {
                throw ImageGenError.invalidInput(path: source.path, reason: "its image index \(top.digest.short) lists no image manifest")
            }
        }
        return try descriptors.map { descriptor in
            var plain = descriptor
            plain.annotations = nil
            let manifest = try CanonicalJSON.decode(Manifest.self, from: try source.blob(descriptor.digest), name: "\(source.path): manifest \(descriptor.digest.short)")
            let config = try CanonicalJSON.decode(
                ImageConfiguration.self, from: try source.blob(manifest.config.digest), name: "\(source.path): config \(manifest.config.digest.short)")
            return PlatformManifest(descriptor: plain, manifest: manifest, config: config)
        }
    }
}
