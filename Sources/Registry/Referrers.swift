import Foundation
import NIOHTTP1
import OCI
import Synchronization
import SystemSupport

/// One document attached to an image manifest as an OCI 1.1 artifact: an SBOM (SPDX,
/// CycloneDX), SLSA provenance (an in-toto statement), …
public struct Attachment: Sendable, Hashable {
    /// The document's media type: the artifact manifest's `artifactType` and the media type
    /// of its one layer (e.g. ``OCI/MediaType/spdxJSON``).
    public var artifactType: MediaType
    /// The document.
    public var bytes: [UInt8]
    /// Annotations of the artifact manifest (`org.opencontainers.image.title`,
    /// `org.opencontainers.image.created`, …); the title also names the layer.
    public var annotations: [String: String]

    /// A document of type `artifactType`.
    public init(artifactType: MediaType, bytes: [UInt8], annotations: [String: String] = [:]) {
        self.artifactType = artifactType
        self.bytes = bytes
        self.annotations = annotations
    }
}

extension Descriptor {
    /// The empty descriptor (image-spec v1.1, manifest.md "Guidance for an Empty Descriptor"):
    /// the config of an artifact manifest, `{}` with its bytes inline.
    public static let emptyJSON = Descriptor(
        mediaType: .empty, digest: Digest.of(Array("{}".utf8)), size: 2, data: Data("{}".utf8))
}

/// Attaches documents to an image manifest that is in the repository, as OCI 1.1 referrers
/// (image-spec v1.1 manifest.md "subject", distribution-spec v1.1 "Pushing Manifests with
/// Subject"): each document becomes an artifact manifest whose `subject` is the image.
///
/// A registry with the referrers API indexes the subject itself and says so with an
/// `OCI-Subject` header on the manifest `PUT`. For one without it, the pusher keeps the list
/// in the referrers tag schema: an image index under the tag `sha256-HEX` of the subject,
/// read, extended and written back.
public struct ReferrerPusher: Sendable {
    /// What an attach did.
    public struct Report: Codable, Hashable, Sendable {
        /// The artifact manifests, one per distinct attachment, in the order given.
        public var manifests: [Descriptor]
        /// Blobs sent (documents and the empty config).
        public var uploaded: Int
        /// Blobs the repository held already.
        public var existing: Int
        /// Bytes sent.
        public var bytesUploaded: Int64
        /// Whether the registry lacks the referrers API, so that the tag schema's index was used.
        public var tagSchema: Bool
        /// Whether the tag schema's index was written (it lacked one of the manifests).
        public var indexUpdated: Bool
    }

    let client: RegistryClient
    let repository: String
    let progress: @Sendable (String) -> Void

    /// A pusher into `repository` of the client's registry.
    public init(client: RegistryClient, repository: String, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.repository = repository
        self.progress = progress
    }

    /// Pushes each attachment: its blob and the empty config `{}` (`HEAD` first: present
    /// blobs are not sent), then an image manifest with the attachment's `artifactType`, the
    /// empty config, one layer (the document; titled by `org.opencontainers.image.title` when
    /// the annotations hold one), `subject` and the annotations, `PUT` by digest. When the
    /// registry does not answer with `OCI-Subject`, the referrers tag `sha256-HEX` is updated:
    /// its index gets the manifests it lacks and is written back, only if it lacked one.
    /// Attaching the same documents again sends no blob and writes no index.
    public func attach(_ attachments: [Attachment], to subject: Descriptor) async throws -> Report {
        let subjectReference = "\(client.registry)/\(repository)@\(subject.digest)"
        guard subject.mediaType.isManifest || subject.mediaType.isIndex else {
            throw RegistryError.invalidReferrer(
                reference: subjectReference, reason: "documents attach to an image manifest or index, not to a \(subject.mediaType)")
        }
        // The subject as the spec describes it: what identifies the manifest, nothing else.
        let subject = Descriptor(mediaType: subject.mediaType, digest: subject.digest, size: subject.size)

        var artifacts: [(descriptor: Descriptor, bytes: [UInt8])] = []
        var blobs: [Digest: (descriptor: Descriptor, bytes: [UInt8])] = [:]
        let empty = Descriptor.emptyJSON
        blobs[empty.digest] = (Descriptor(mediaType: .empty, digest: empty.digest, size: empty.size), Array("{}".utf8))
        for attachment in attachments {
            let title = attachment.annotations[AnnotationKey.title]
            let layer = Descriptor(
                mediaType: attachment.artifactType, digest: Digest.of(attachment.bytes), size: Int64(attachment.bytes.count),
                annotations: title.map { [AnnotationKey.title: $0] })
            let annotations = attachment.annotations.isEmpty ? nil : attachment.annotations
            var manifest = Manifest(config: empty, layers: [layer], annotations: annotations)
            manifest.artifactType = attachment.artifactType
            manifest.subject = subject
            let bytes = try CanonicalJSON.encode(manifest)
            let descriptor = Descriptor(
                mediaType: .imageManifest, digest: Digest.of(bytes), size: Int64(bytes.count), annotations: annotations,
                artifactType: attachment.artifactType)
            guard !artifacts.contains(where: { $0.descriptor.digest == descriptor.digest }) else { continue }
            artifacts.append((descriptor, bytes))
            blobs[layer.digest] = (layer, attachment.bytes)
        }
        guard !artifacts.isEmpty else {
            return Report(manifests: [], uploaded: 0, existing: 0, bytesUploaded: 0, tagSchema: false, indexUpdated: false)
        }

        let counts = Counts()
        let ordered = blobs.values.sorted { $0.descriptor.digest < $1.descriptor.digest }
        let client = self.client, repository = self.repository, progress = self.progress
        try await Parallel.asyncForEach(ordered, width: 4) { blob in
            let outcome: RegistryClient.BlobOutcome
            if try await client.blobExists(repository, blob.descriptor.digest) {
                outcome = .existed
            } else {
                outcome = try await client.pushBlob(repository, descriptor: blob.descriptor, bytes: blob.bytes)
            }
            let n = counts.record(outcome, size: blob.descriptor.size)
            progress("blob \(n)/\(ordered.count) \(blob.descriptor.digest.short) \(ByteCount.text(blob.descriptor.size)): \(outcome.rawValue)")
        }

        // Every blob is in place: the artifact manifests, by digest.
        var indexed = true
        for artifact in artifacts {
            let reply = try await client.sendManifest(
                repository, reference: artifact.descriptor.digest.description, bytes: artifact.bytes, mediaType: .imageManifest)
            if let header = reply.headers.first(name: "OCI-Subject") {
                guard (try? Digest(parsing: header.trimmingSpaces)) == subject.digest else {
                    throw RegistryError.protocolViolation(
                        operation: "PUT \(client.registry)/\(repository)@\(artifact.descriptor.digest)",
                        reason: "OCI-Subject names \(header), but the manifest's subject is \(subject.digest)")
                }
            } else {
                indexed = false
            }
            progress("referrer \(artifact.descriptor.digest.short) (\(artifact.descriptor.artifactType?.rawValue ?? "")) of \(subject.digest.short)")
        }
        let final = counts.value.withLock { $0 }
        var report = Report(
            manifests: artifacts.map(\.descriptor), uploaded: final.uploaded, existing: final.existing, bytesUploaded: final.bytes,
            tagSchema: !indexed, indexUpdated: false)
        if indexed {
            progress("\(client.registry)/\(repository): the registry lists the referrers of \(subject.digest.short) itself (OCI-Subject)")
            return report
        }
        report.indexUpdated = try await updateTagSchema(with: artifacts.map(\.descriptor), of: subject.digest)
        return report
    }

    /// How many times ``updateTagSchema(with:of:)`` writes the referrers tag before it gives
    /// up on a tag that other writers keep replacing.
    static let tagSchemaAttempts = 5

    /// Adds `descriptors` to the index under the subject's referrers tag (a new index when
    /// there is none); writes it back only if one was missing. Returns whether it wrote.
    ///
    /// The registry offers no conditional `PUT` (distribution 2.8 has none), so another writer
    /// (cosign, oras, a second push) may replace the tag between our read and our write, or
    /// right after our write, with an index that lacks our entries. So after each `PUT` the tag
    /// is read again: when it lacks one of the manifests we added or one it listed when we read
    /// it, those are added to what it holds now and it is written again, up to
    /// ``tagSchemaAttempts`` writes. This narrows the window; it cannot close it (a writer that
    /// read before our last `PUT` and writes after our last check still wins).
    func updateTagSchema(with descriptors: [Descriptor], of subject: Digest) async throws -> Bool {
        let tag = RegistryClient.referrersTag(for: subject)
        let reader = ReferrerReader(client: client)
        var index = try await reader.tagSchemaIndex(repository, of: subject, push: true) ?? Index(manifests: [])
        let listed = Set(index.manifests.map(\.digest))
        let added = descriptors.filter { !listed.contains($0.digest) }
        guard !added.isEmpty else {
            progress("referrers tag \(tag): lists them already")
            return false
        }
        // What the tag must list once we are done: what it listed, and what we add.
        var seen: Set<Digest> = []
        let required = (index.manifests + added).filter { seen.insert($0.digest).inserted }
        var missing = added
        for attempt in 1...Self.tagSchemaAttempts {
            index.mediaType = .imageIndex
            index.manifests += missing
            try await client.putManifest(repository, reference: tag, bytes: try CanonicalJSON.encode(index), mediaType: .imageIndex)
            let now = try await reader.tagSchemaIndex(repository, of: subject, push: true) ?? Index(manifests: [])
            let present = Set(now.manifests.map(\.digest))
            missing = required.filter { !present.contains($0.digest) }
            if missing.isEmpty {
                progress("referrers tag \(tag): \(added.count) added, \(now.manifests.count) in all")
                return true
            }
            if attempt < Self.tagSchemaAttempts {
                progress(
                    "referrers tag \(tag): another writer replaced it without \(missing.count) of its entries; "
                        + "written again (write \(attempt + 1) of at most \(Self.tagSchemaAttempts))")
            }
            index = now
        }
        throw RegistryError.referrersTagContended(
            reference: "\(client.registry)/\(repository):\(tag)", attempts: Self.tagSchemaAttempts, missing: missing.map(\.digest.description))
    }
}

/// Reads the referrers of a manifest (OCI 1.1): from the registry's referrers API, or from the
/// referrers tag schema where the registry has none, and the documents they carry.
public struct ReferrerReader: Sendable {
    /// The largest referrer manifest read: 4 MiB, what the distribution spec asks every
    /// registry to accept (distribution-spec v1.1, "Pushing Manifests") and what
    /// ``RegistryClient`` reads of any manifest. The size is the registry's word, from the
    /// referrers list: a referrer listed larger is refused before it is fetched.
    public static let manifestSizeLimit: Int64 = 4 << 20
    /// The largest attached document read: 64 MiB. A document is read into memory; v2.7's
    /// SPDX document is 449 KiB. The size is the artifact manifest's word: a document listed
    /// larger is refused before it is fetched.
    public static let documentSizeLimit: Int64 = 64 << 20

    let client: RegistryClient

    /// A reader over a client of the repository's registry.
    public init(client: RegistryClient) { self.client = client }

    /// The referrers of `subject`: `GET /v2/NAME/referrers/DIGEST[?artifactType=…]` first;
    /// a 404 (or an answer that is not an image index) falls back to the index under the
    /// referrers tag `sha256-HEX`; neither → none. Filtered by `artifactType` here too (a
    /// registry may ignore the filter), each manifest once, sorted by artifact type, then digest.
    public func referrers(_ repository: String, of subject: Digest, artifactType: MediaType? = nil) async throws -> [Descriptor] {
        let listed: [Descriptor]
        if let fromAPI = try await client.referrersFromAPI(repository, of: subject, artifactType: artifactType) {
            listed = fromAPI
        } else {
            listed = try await tagSchemaIndex(repository, of: subject)?.manifests ?? []
        }
        var seen: Set<Digest> = []
        return listed
            .filter { artifactType == nil || $0.artifactType == artifactType }
            .filter { seen.insert($0.digest).inserted }
            .sorted { ($0.artifactType?.rawValue ?? "", $0.digest) < ($1.artifactType?.rawValue ?? "", $1.digest) }
    }

    /// One attached document: its artifact manifest (checked against the descriptor's digest
    /// and size, at most ``manifestSizeLimit``; its `subject` must be `subject` when given) and
    /// the bytes of its one layer (at most ``documentSizeLimit``, checked against the layer's
    /// digest and size).
    public func document(_ repository: String, _ descriptor: Descriptor, of subject: Digest? = nil) async throws -> (manifest: Manifest, bytes: [UInt8]) {
        let reference = "\(client.registry)/\(repository)@\(descriptor.digest)"
        guard descriptor.mediaType == .imageManifest else {
            throw RegistryError.invalidReferrer(
                reference: reference, reason: "a document is carried by an image manifest (\(MediaType.imageManifest)), not a \(descriptor.mediaType)")
        }
        let fetched = try await manifest(repository, descriptor, of: subject)
        let manifest = try CanonicalJSON.decode(Manifest.self, from: fetched.bytes, name: reference)
        return (manifest, try await document(repository, in: manifest, reference: reference))
    }

    /// The bytes of the one layer of `manifest`, the artifact manifest at `reference`.
    func document(_ repository: String, in manifest: Manifest, reference: String) async throws -> [UInt8] {
        guard manifest.layers.count == 1, let layer = manifest.layers.first else {
            throw RegistryError.invalidReferrer(
                reference: reference, reason: "an artifact manifest carries one document as its one layer; this one has \(manifest.layers.count) layers")
        }
        guard layer.size <= Self.documentSizeLimit else {
            throw RegistryError.referrerTooLarge(
                reference: reference, what: "document", digest: layer.digest.description, size: layer.size, limit: Self.documentSizeLimit)
        }
        do {
            return try await client.blob(repository, descriptor: layer)
        } catch RegistryError.digestMismatch(_, let expected, let actual) {
            throw RegistryError.referrerDocumentMismatch(reference: reference, expected: expected, actual: actual)
        }
    }

    /// The document imagegen attached to `subject` as `artifactType`, when several referrers
    /// of that type are listed (another tool's SBOM, an older push, a forged entry): each
    /// one's manifest is read (``manifestSizeLimit`` each); those whose `subject` is another
    /// digest (or none) are skipped. Preferred are those titled (`org.opencontainers.image.title`,
    /// on the manifest or else on its layer) with a name ending in `titleSuffix` (imagegen
    /// titles its documents by their file names: `NAME.spdx.json`, `NAME.cdx.json`,
    /// `NAME.provenance.json`); among those, the newest by `org.opencontainers.image.created`
    /// (RFC 3339; none counts as oldest), then the highest digest. Nil when no referrer of the
    /// type has `subject` for its subject.
    public func attachedDocument(
        _ repository: String, of subject: Digest, artifactType: MediaType, titleSuffix: String
    ) async throws -> (descriptor: Descriptor, manifest: Manifest, bytes: [UInt8])? {
        struct Candidate {
            var descriptor: Descriptor
            var manifest: Manifest
            var titled: Bool
            var created: Date?
        }
        var candidates: [Candidate] = []
        for descriptor in try await referrers(repository, of: subject, artifactType: artifactType) where descriptor.mediaType == .imageManifest {
            let reference = "\(client.registry)/\(repository)@\(descriptor.digest)"
            let fetched: RegistryClient.FetchedManifest
            do {
                fetched = try await manifest(repository, descriptor, of: subject)
            } catch RegistryError.referrerSubjectMismatch {
                continue
            }
            let manifest = try CanonicalJSON.decode(Manifest.self, from: fetched.bytes, name: reference)
            let title = manifest.annotations?[AnnotationKey.title] ?? manifest.layers.first?.annotations?[AnnotationKey.title]
            candidates.append(Candidate(
                descriptor: descriptor, manifest: manifest, titled: title?.hasSuffix(titleSuffix) ?? false,
                created: manifest.annotations?[AnnotationKey.created].flatMap(Self.date)))
        }
        let best = candidates.max { a, b in
            if a.titled != b.titled { return !a.titled }
            if a.created != b.created { return (a.created ?? .distantPast) < (b.created ?? .distantPast) }
            return a.descriptor.digest < b.descriptor.digest
        }
        guard let best else { return nil }
        let reference = "\(client.registry)/\(repository)@\(best.descriptor.digest)"
        return (best.descriptor, best.manifest, try await document(repository, in: best.manifest, reference: reference))
    }

    /// An RFC 3339 timestamp (`2023-11-14T22:13:20Z`, with or without fractional seconds or
    /// an offset), or nil.
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions.insert(.withFractionalSeconds)
        return formatter.date(from: text)
    }

    /// A referrer's manifest or index as the registry holds it: its size is at most
    /// ``manifestSizeLimit`` (refused before the request otherwise), its digest is the
    /// descriptor's (checked by the client), its size too, and its `subject` is `subject` when given.
    func manifest(_ repository: String, _ descriptor: Descriptor, of subject: Digest?) async throws -> RegistryClient.FetchedManifest {
        let reference = "\(client.registry)/\(repository)@\(descriptor.digest)"
        guard descriptor.size <= Self.manifestSizeLimit else {
            throw RegistryError.referrerTooLarge(
                reference: reference, what: "manifest", digest: descriptor.digest.description, size: descriptor.size, limit: Self.manifestSizeLimit)
        }
        let fetched = try await client.manifest(repository, reference: descriptor.digest.description)
        guard Int64(fetched.bytes.count) == descriptor.size else {
            throw RegistryError.invalidReferrer(
                reference: reference, reason: "the manifest is \(fetched.bytes.count) bytes, the referrers list says \(descriptor.size)")
        }
        if let subject {
            // Manifest and index both carry `subject` (image-spec v1.1).
            struct Subjected: Decodable { var subject: Descriptor? }
            let named = try CanonicalJSON.decode(Subjected.self, from: fetched.bytes, name: reference).subject?.digest
            guard named == subject else {
                throw RegistryError.referrerSubjectMismatch(reference: reference, expected: subject.description, actual: named?.description)
            }
        }
        return fetched
    }

    /// The index under the referrers tag of `subject`, or nil when the tag is absent.
    func tagSchemaIndex(_ repository: String, of subject: Digest, push: Bool = false) async throws -> Index? {
        let tag = RegistryClient.referrersTag(for: subject)
        let reference = "\(client.registry)/\(repository):\(tag)"
        let fetched: RegistryClient.FetchedManifest
        do {
            fetched = try await client.manifest(repository, reference: tag, push: push)
        } catch RegistryError.notFound {
            return nil
        }
        guard fetched.mediaType == .imageIndex else {
            throw RegistryError.referrersTagNotIndex(reference: reference, mediaType: fetched.mediaType.rawValue)
        }
        return try CanonicalJSON.decode(Index.self, from: fetched.bytes, name: reference)
    }
}
