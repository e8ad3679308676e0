import Foundation
import OCI
import Synchronization
import SystemSupport

/// `imagegen push`: sends an image layout or archive to a repository — every blob the
/// repository lacks (in parallel), then the manifests by digest, then the tags. Tags are
/// immutable unless `force`: a tag that points to another digest stops the push before any
/// byte is sent. A manifest is sent only after all of its blobs are in place.
public struct ImagePusher: Sendable {
    /// What to push where.
    public struct Options: Sendable {
        /// The repository (and a tag, if only that tag is to be pushed).
        public var destination: ImageReference
        /// Move tags that point elsewhere.
        public var force = false
        /// Push the manifests by digest only, no tags (CI: push by digest, tag later).
        public var digestOnly = false
        /// Repositories of the same registry to mount blobs from.
        public var mountFrom: [String] = []
        /// Blobs sent at once.
        public var jobs = 4
        /// Blobs the source lacks that a registry holds (an image published from a registry
        /// cache): mounted from the repository given, on the destination's registry, or else
        /// downloaded with `fetchElsewhere` to a temporary file and uploaded.
        public var elsewhere: [Digest: Elsewhere] = [:]
        /// Downloads a blob of `elsewhere` to a path (verified against its descriptor).
        public var fetchElsewhere: (@Sendable (Descriptor, String) async throws -> Void)?

        /// Where a blob the source lacks is.
        public struct Elsewhere: Sendable {
            /// A repository of the destination's registry to mount it from, if it is on that registry.
            public var mountFrom: String?
            /// Where it is.
            public init(mountFrom: String?) { self.mountFrom = mountFrom }
        }

        /// Options for `destination`.
        public init(destination: ImageReference) { self.destination = destination }
    }

    /// What a push did to a tag.
    public enum TagAction: String, Codable, Hashable, Sendable {
        /// It did not exist; it names the image now.
        case created
        /// It named the image already.
        case unchanged
        /// It named another image (`--force`); it names this one now.
        case moved
    }

    /// What happened to a tag.
    public struct TagResult: Codable, Hashable, Sendable {
        /// A result.
        public init(tag: String, action: TagAction, previous: Digest?, digest: Digest) {
            self.tag = tag
            self.action = action
            self.previous = previous
            self.digest = digest
        }

        /// The tag.
        public var tag: String
        /// What the push did to it.
        public var action: TagAction
        /// The digest it pointed to before, when moved.
        public var previous: Digest?
        /// The digest it points to now.
        public var digest: Digest
    }

    /// What a push did.
    public struct Report: Codable, Hashable, Sendable {
        /// `registry/repository`.
        public var repository: String
        /// The manifests (or indexes) pushed, as `registry/repository@digest`.
        public var references: [String]
        /// Tags and what happened to each.
        public var tags: [TagResult]
        /// Blobs sent.
        public var uploaded: Int
        /// Blobs mounted from another repository.
        public var mounted: Int
        /// Blobs already present.
        public var existing: Int
        /// Bytes sent.
        public var bytesUploaded: Int64
    }

    let client: RegistryClient
    let options: Options
    let progress: ProgressSink

    /// A pusher over a client of the destination's registry. `progress` gets a note per blob
    /// and tag moved, and a `push` item per blob (its short digest): the bytes sent, none for a
    /// blob that was there already or mounted.
    public init(client: RegistryClient, options: Options, progress: ProgressSink = .none) {
        self.client = client
        self.options = options
        self.progress = progress
    }

    /// A manifest or index of the image, with the blobs it needs.
    struct Document {
        var descriptor: Descriptor
        var bytes: [UInt8]
    }

    /// Pushes the image at `source`.
    public func push(_ source: any ImageSource) async throws -> Report {
        let repository = options.destination.repository
        let targets = try selectTargets(source)
        // Documents in push order (children before the index that names them) and the blobs.
        var documents: [Document] = []
        var blobs: [Digest: Descriptor] = [:]
        for target in Set(targets.map(\.descriptor)).sorted(by: { $0.digest < $1.digest }) {
            try collect(target, from: source, documents: &documents, blobs: &blobs)
        }
        var files: [Digest: BlobFile] = [:]
        for (digest, descriptor) in blobs {
            if options.elsewhere[digest] != nil, source.blobFile(digest) == nil { continue }
            guard let file = source.blobFile(digest) else {
                throw RegistryError.invalidImage(path: source.path, reason: "blob \(digest) is missing; the image is incomplete (imagegen verify \(source.path))")
            }
            guard file.size == descriptor.size else {
                throw RegistryError.invalidImage(path: source.path, reason: "blob \(digest) is \(file.size) bytes, its descriptor says \(descriptor.size)")
            }
            files[digest] = file
        }

        try await client.probe()
        // Immutability first: nothing is sent if a tag would move without --force.
        var tagPlan: [(tag: String, descriptor: Descriptor, previous: Digest?)] = []
        for target in targets {
            guard let tag = target.tag else { continue }
            let previous = try await client.manifestDigest(repository, reference: tag)
            if let previous, previous != target.descriptor.digest, !options.force {
                throw RegistryError.tagWouldMove(
                    reference: options.destination.with(tag: tag).description, from: previous.description, to: target.descriptor.digest.description)
            }
            tagPlan.append((tag, target.descriptor, previous))
        }

        let counts = Counts()
        let total = blobs.count
        let ordered = blobs.values.sorted { ($0.size, $0.digest) > ($1.size, $1.digest) }  // big first: the longest run starts first
        let client = self.client, mountFrom = options.mountFrom, progress = self.progress, blobFiles = files
        let elsewhere = options.elsewhere, fetchElsewhere = options.fetchElsewhere
        let send: @Sendable (Descriptor) async throws -> Void = { descriptor in
            let counter = ProgressCounter(ProgressItem(.push, descriptor.digest.short), total: descriptor.size, sink: progress)
            let outcome: RegistryClient.BlobOutcome
            if try await client.blobExists(repository, descriptor.digest) {
                outcome = .existed
            } else if let file = blobFiles[descriptor.digest] {
                outcome = try await client.pushBlob(repository, descriptor: descriptor, file: file, mountFrom: mountFrom, progress: counter.add)
            } else {
                outcome = try await Self.pushElsewhere(
                    descriptor, elsewhere[descriptor.digest], fetch: fetchElsewhere, client: client, repository: repository, progress: counter.add)
            }
            counter.finish(done: outcome == .uploaded ? descriptor.size : 0)
            let n = counts.record(outcome, size: descriptor.size)
            progress("blob \(n)/\(total) \(descriptor.digest.short) \(ByteCount.text(descriptor.size)): \(outcome.rawValue)")
        }
        try await Parallel.asyncForEach(ordered, width: options.jobs, send)

        // Every blob is in place: now the manifests, children first, by digest.
        for document in documents {
            try await client.putManifest(repository, reference: document.descriptor.digest.description, bytes: document.bytes, mediaType: document.descriptor.mediaType)
        }
        var tagResults: [TagResult] = []
        for (tag, descriptor, previous) in tagPlan {
            let action: TagAction
            if previous == descriptor.digest {
                action = .unchanged
            } else {
                let bytes = documents.first { $0.descriptor.digest == descriptor.digest }!.bytes
                try await client.putManifest(repository, reference: tag, bytes: bytes, mediaType: descriptor.mediaType)
                action = previous == nil ? .created : .moved
                if let previous { progress("moved \(options.destination.with(tag: tag)) from \(previous) to \(descriptor.digest)") }
            }
            tagResults.append(TagResult(tag: tag, action: action, previous: previous == descriptor.digest ? nil : previous, digest: descriptor.digest))
        }
        let final = counts.value.withLock { $0 }
        let references = Set(targets.map(\.descriptor.digest)).sorted().map { options.destination.with(digest: $0).description }
        return Report(
            repository: "\(options.destination.registry)/\(repository)", references: references, tags: tagResults,
            uploaded: final.uploaded, mounted: final.mounted, existing: final.existing, bytesUploaded: final.bytes)
    }

    /// Puts a blob the source lacks into `repository`: mounted where it is on the same registry,
    /// else downloaded to a temporary file and uploaded (`progress` gets the bytes sent).
    static func pushElsewhere(
        _ descriptor: Descriptor, _ place: Options.Elsewhere?, fetch: (@Sendable (Descriptor, String) async throws -> Void)?,
        client: RegistryClient, repository: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws -> RegistryClient.BlobOutcome {
        if let source = place?.mountFrom, try await client.mountBlob(repository, descriptor.digest, from: source) {
            return .mounted
        }
        guard let fetch else {
            throw RegistryError.invalidImage(path: repository, reason: "blob \(descriptor.digest) is neither here nor mountable, and nothing can fetch it")
        }
        let directory = try RegistryClient.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/blob"
        try await fetch(descriptor, path)
        return try await client.pushBlob(repository, descriptor: descriptor, file: BlobFile(path: path, offset: 0, size: descriptor.size), progress: progress)
    }

    /// The manifests to push and their tags: every entry of the layout's index (tag = its
    /// `ref.name`), or only the destination's tag.
    func selectTargets(_ source: any ImageSource) throws -> [(tag: String?, descriptor: Descriptor)] {
        let entries = try source.index().manifests.map { entry -> (tag: String?, descriptor: Descriptor) in
            var descriptor = entry
            let tag = entry.annotations?[AnnotationKey.refName]
            descriptor.annotations = nil
            descriptor.platform = nil
            return (tag, descriptor)
        }
        guard !entries.isEmpty else { throw RegistryError.invalidImage(path: source.path, reason: "index.json lists no manifest") }
        for entry in entries {
            guard entry.descriptor.mediaType.isManifest || entry.descriptor.mediaType.isIndex else {
                throw RegistryError.invalidImage(path: source.path, reason: "index.json names \(entry.descriptor.mediaType), not a manifest or index")
            }
        }
        if options.digestOnly {
            return Set(entries.map(\.descriptor)).sorted { $0.digest < $1.digest }.map { (nil, $0) }
        }
        if let tag = options.destination.tag {
            if let match = entries.first(where: { $0.tag == tag }) { return [(tag, match.descriptor)] }
            let distinct = Set(entries.map(\.descriptor))
            guard distinct.count == 1, let only = distinct.first else {
                let tags = entries.compactMap(\.tag).joined(separator: ", ")
                throw RegistryError.invalidImage(path: source.path, reason: "holds several images; name one of its tags (\(tags)) in --to")
            }
            return [(tag, only)]
        }
        for tag in entries.compactMap(\.tag) {
            do { try ImageReference.validateTag(tag) } catch {
                throw RegistryError.invalidImage(path: source.path, reason: "its tag '\(tag)' is not a valid registry tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")
            }
        }
        return entries
    }

    /// Reads a manifest or index and, depth first, what it refers to.
    func collect(_ descriptor: Descriptor, from source: any ImageSource, documents: inout [Document], blobs: inout [Digest: Descriptor]) throws {
        guard !documents.contains(where: { $0.descriptor.digest == descriptor.digest }) else { return }
        let bytes = try source.blob(descriptor.digest, limit: 4 << 20)
        guard Digest.of(bytes, algorithm: descriptor.digest.algorithm) == descriptor.digest else {
            throw RegistryError.invalidImage(path: source.path, reason: "blob \(descriptor.digest) does not hash to its name")
        }
        if descriptor.mediaType.isIndex {
            let index = try CanonicalJSON.decode(Index.self, from: bytes, name: "\(source.path): \(descriptor.digest)")
            for child in index.manifests { try collect(child, from: source, documents: &documents, blobs: &blobs) }
        } else {
            let manifest = try CanonicalJSON.decode(Manifest.self, from: bytes, name: "\(source.path): \(descriptor.digest)")
            for blob in [manifest.config] + manifest.layers { blobs[blob.digest] = blob }
        }
        documents.append(Document(descriptor: descriptor, bytes: bytes))
    }
}

/// Blob tallies shared by the upload tasks.
final class Counts: Sendable {
    let value = Mutex<(uploaded: Int, mounted: Int, existing: Int, bytes: Int64, done: Int)>((0, 0, 0, 0, 0))

    /// Counts one blob; returns how many are done.
    func record(_ outcome: RegistryClient.BlobOutcome, size: Int64) -> Int {
        value.withLock {
            switch outcome {
            case .existed: $0.existing += 1
            case .mounted: $0.mounted += 1
            case .uploaded: $0.uploaded += 1; $0.bytes += size
            }
            $0.done += 1
            return $0.done
        }
    }
}
