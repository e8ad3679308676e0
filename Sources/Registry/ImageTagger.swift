import OCI

/// `imagegen tag`: points tags at a manifest that is already in the repository (pushed by
/// digest), without the image at hand — the last step of a pipeline. Immutable like push: a
/// tag that points elsewhere stops it before any tag is written, unless `force`.
public struct ImageTagger: Sendable {
    let client: RegistryClient
    let force: Bool

    /// A tagger over a client of the repository's registry.
    public init(client: RegistryClient, force: Bool = false) {
        self.client = client
        self.force = force
    }

    /// Tags `source` (a digest or a tag of the repository) with `tags`.
    public func tag(_ source: ImageReference, tags: [String]) async throws -> [ImagePusher.TagResult] {
        guard let reference = source.reference else {
            throw RegistryError.invalidReference(value: source.description, reason: "name the image by digest (@sha256:…) or tag")
        }
        for tag in tags { try ImageReference.validateTag(tag) }
        let repository = source.repository
        let manifest = try await client.manifest(repository, reference: reference, push: true)
        var previous: [String: Digest] = [:]
        for tag in tags {
            guard let current = try await client.manifestDigest(repository, reference: tag) else { continue }
            if current != manifest.digest, !force {
                throw RegistryError.tagWouldMove(reference: source.with(tag: tag).description, from: current.description, to: manifest.digest.description)
            }
            previous[tag] = current
        }
        var results: [ImagePusher.TagResult] = []
        for tag in tags {
            let before = previous[tag]
            if before == manifest.digest {
                results.append(.init(tag: tag, action: .unchanged, previous: nil, digest: manifest.digest))
                continue
            }
            try await client.putManifest(repository, reference: tag, bytes: manifest.bytes, mediaType: manifest.mediaType)
            results.append(.init(tag: tag, action: before == nil ? .created : .moved, previous: before, digest: manifest.digest))
        }
        return results
    }
}
