import Foundation
import OCI
import SystemSupport

/// `imagegen pull`: fetches an image (a manifest, or an index with its manifests) and its
/// blobs into an OCI layout, checking every byte against its digest and size before it
/// takes its name. With `withReferrers`, what is attached to each of its manifests and
/// indexes (OCI 1.1 referrers: SBOMs, provenance, signatures) comes along, listed in
/// `index.json` without a tag (image-spec v1.1, image-layout.md). The caller moves the
/// finished layout into place.
public struct ImagePuller: Sendable {
    /// What a pull fetched.
    public struct Report: Codable, Hashable, Sendable {
        /// The reference pulled.
        public var reference: String
        /// The digest of the top manifest or index.
        public var digest: Digest
        /// Manifests and indexes fetched, referrers included.
        public var manifests: Int
        /// Blobs fetched.
        public var blobs: Int
        /// Bytes of blobs fetched.
        public var bytes: Int64
        /// Referrers fetched (artifact manifests attached to the image's manifests or indexes).
        public var referrers: Int
    }

    let client: RegistryClient
    let jobs: Int
    let withReferrers: Bool
    let progress: ProgressSink

    /// A puller over a client of the reference's registry; `withReferrers` also fetches what
    /// is attached to the image. `progress` gets a note per blob and referrer, and a `pull` item
    /// per blob (its short digest): the bytes received.
    public init(client: RegistryClient, jobs: Int = 4, withReferrers: Bool = false, progress: ProgressSink = .none) {
        self.client = client
        self.jobs = jobs
        self.withReferrers = withReferrers
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
        var blobs: [Digest: Descriptor] = [:]
        let pulled = try await fetchDocuments(top, of: reference, into: layout, blobs: &blobs)
        var manifests = pulled.count

        // The referrers of each manifest and index of the image, one level deep, each once.
        var referrers: [Descriptor] = []
        if withReferrers {
            let reader = ReferrerReader(client: client)
            var seen = Set(pulled)
            for subject in pulled {
                for referrer in try await reader.referrers(repository, of: subject) where seen.insert(referrer.digest).inserted {
                    let fetched = try await reader.manifest(repository, referrer, of: subject)
                    manifests += try await fetchDocuments(fetched, of: reference, into: layout, blobs: &blobs).count
                    var entry = referrer
                    entry.annotations?[AnnotationKey.refName] = nil
                    if entry.annotations?.isEmpty == true { entry.annotations = nil }
                    referrers.append(entry)
                    progress("referrer \(referrer.digest.short) (\(referrer.artifactType?.rawValue ?? referrer.mediaType.rawValue)) of \(subject.short)")
                }
            }
        }

        let ordered = blobs.values.sorted { ($0.size, $0.digest) > ($1.size, $1.digest) }
        let client = self.client, progress = self.progress
        let fetched = Counts()
        try await Parallel.asyncForEach(ordered, width: jobs) { descriptor in
            let target = layout.blobPath(descriptor.digest)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: target).deletingLastPathComponent().path, withIntermediateDirectories: true)
            let counter = ProgressCounter(ProgressItem(.pull, descriptor.digest.short), total: descriptor.size, sink: progress)
            try await client.pullBlob(repository, descriptor: descriptor, to: target, progress: counter.add)
            counter.finish()
            let n = fetched.record(.uploaded, size: descriptor.size)
            progress("blob \(n)/\(ordered.count) \(descriptor.digest.short) \(ByteCount.text(descriptor.size)): verified")
        }
        var entry = top.descriptor
        if let tag = reference.tag, reference.digest == nil { entry.annotations = [AnnotationKey.refName: tag] }
        // The image first (run-check and others take the first entry), then the referrers.
        try layout.writeIndex(Index(manifests: [entry] + referrers))
        return Report(
            reference: reference.description, digest: top.digest, manifests: manifests, blobs: ordered.count,
            bytes: ordered.reduce(0) { $0 + $1.size }, referrers: referrers.count)
    }

    /// Writes `top` and, for an index, the manifests it names (depth first) into the layout,
    /// and gathers the blobs their manifests need. Returns the digests written, `top`'s first.
    func fetchDocuments(
        _ top: RegistryClient.FetchedManifest, of reference: ImageReference, into layout: LayoutWriter, blobs: inout [Digest: Descriptor]
    ) async throws -> [Digest] {
        var written: [Digest] = []
        var pending = [top]
        while let document = pending.popLast() {
            written.append(document.digest)
            try layout.write(blob: document.bytes, mediaType: document.mediaType)
            if document.mediaType.isIndex {
                let index = try CanonicalJSON.decode(Index.self, from: document.bytes, name: "\(reference) index \(document.digest.short)")
                for child in index.manifests where child.mediaType.isManifest || child.mediaType.isIndex {
                    let fetched = try await client.manifest(reference.repository, reference: child.digest.description)
                    pending.append(fetched)
                }
            } else {
                let manifest = try CanonicalJSON.decode(Manifest.self, from: document.bytes, name: "\(reference) manifest \(document.digest.short)")
                for blob in [manifest.config] + manifest.layers {
                    // Bytes given inline (an artifact's empty config `{}`) need no request.
                    if let data = blob.data, Int64(data.count) == blob.size, Digest.of(Array(data), algorithm: blob.digest.algorithm) == blob.digest {
                        try FileManager.default.createDirectory(
                            atPath: URL(fileURLWithPath: layout.blobPath(blob.digest)).deletingLastPathComponent().path, withIntermediateDirectories: true)
                        try AtomicFileWriter.write(Array(data), to: layout.blobPath(blob.digest))
                    } else {
                        blobs[blob.digest] = blob
                    }
                }
            }
        }
        return written
    }
}
