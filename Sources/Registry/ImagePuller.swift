import Foundation
import OCI

/// `imagegen pull`: fetches an image (a manifest, or an index with its manifests) and its
/// blobs into an OCI layout, checking every byte against its digest and size before it
/// takes its name. The caller moves the finished layout into place.
public struct ImagePuller: Sendable {
    /// What a pull fetched.
    public struct Report: Codable, Hashable, Sendable {
        /// The reference pulled.
        public var reference: String
        /// The digest of the top manifest or index.
        public var digest: Digest
        /// Manifests and indexes fetched.
        public var manifests: Int
        /// Blobs fetched.
        public var blobs: Int
        /// Bytes of blobs fetched.
        public var bytes: Int64
    }

    let client: RegistryClient
    let jobs: Int
    let progress: @Sendable (String) -> Void

    /// A puller over a client of the reference's registry.
    public init(client: RegistryClient, jobs: Int = 4, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.jobs = jobs
        self.progress = progress
    }

    /// Pulls `reference` into the (new or empty) layout directory `layoutPath`.
    public func pull(_ reference: ImageReference, into layoutPath: String) async throws -> Report {
        guard let name = reference.reference else {
            throw RegistryError.invalidReference(value: reference.description, reason: "name a tag or a digest to pull")
        }
        let layout = try LayoutWriter(path: layoutPath)
        let repository = reference.repository
        let top = try await client.manifest(repository, reference: name)
        var manifests = 0
        var blobs: [Digest: Descriptor] = [:]
        var pending = [top]
        while let document = pending.popLast() {
            manifests += 1
            try layout.write(blob: document.bytes, mediaType: document.mediaType)
            if document.mediaType.isIndex {
                let index = try CanonicalJSON.decode(Index.self, from: document.bytes, name: "\(reference) index \(document.digest.short)")
                for child in index.manifests where child.mediaType.isManifest || child.mediaType.isIndex {
                    let fetched = try await client.manifest(repository, reference: child.digest.description)
                    pending.append(fetched)
                }
            } else {
                let manifest = try CanonicalJSON.decode(Manifest.self, from: document.bytes, name: "\(reference) manifest \(document.digest.short)")
                for blob in [manifest.config] + manifest.layers { blobs[blob.digest] = blob }
            }
        }
        let ordered = blobs.values.sorted { ($0.size, $0.digest) > ($1.size, $1.digest) }
        let client = self.client, progress = self.progress
        let fetched = Counts()
        try await forEachConcurrently(ordered, jobs: jobs) { descriptor in
            let target = layout.blobPath(descriptor.digest)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: target).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try await client.pullBlob(repository, descriptor: descriptor, to: target)
            let n = fetched.record(.uploaded, size: descriptor.size)
            progress("blob \(n)/\(ordered.count) \(descriptor.digest.short) \(ByteCount.text(descriptor.size)): verified")
        }
        var entry = top.descriptor
        if let tag = reference.tag, reference.digest == nil { entry.annotations = [AnnotationKey.refName: tag] }
        try layout.writeIndex(Index(manifests: [entry]))
        return Report(
            reference: reference.description, digest: top.digest, manifests: manifests, blobs: ordered.count,
            bytes: ordered.reduce(0) { $0 + $1.size })
    }
}
