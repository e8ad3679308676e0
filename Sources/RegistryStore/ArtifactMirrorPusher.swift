import Artifacts
import Foundation
import ImageGen
import ImageModel
import OCI
import Registry
import Synchronization
import SystemSupport

/// `imagegen mirror`: puts every deb and wheel that the named images' locks pin (every platform
/// of a multi-platform lock) into one registry repository as blobs, so that a lock stays
/// buildable after the upstream sources drop its versions (docs/artifact-mirror.md).
///
/// Artifacts the local cache lacks are fetched into it first, the way `build` fetches them.
/// Each blob is sent only when `HEAD` says the repository lacks it; then one
/// ``ArtifactMirrorManifest`` per lock, tagged `NAME-lock-HEX`, keeps the blobs from the
/// registry's garbage collector. A second run over the same locks sends nothing.
public struct ArtifactMirrorPusher: Sendable {
    /// What to mirror where.
    public struct Options: Sendable {
        /// The registry and repository.
        public var destination: ImageReference
        /// Where specs, locks, the cache and the sources are (as for `build`).
        public var build: Builder.Options
        /// Blobs sent at once.
        public var jobs = 4

        /// Options for `destination`, over `build`'s specs, cache and sources.
        public init(destination: ImageReference, build: Builder.Options) {
            self.destination = destination
            self.build = build
        }
    }

    /// One lock's part of the report.
    public struct ImageReport: Codable, Hashable, Sendable {
        /// The image name.
        public var image: String
        /// SHA-256 of its lock file.
        public var lockSHA256: Digest
        /// The platforms the lock resolves.
        public var platforms: [String]
        /// `REGISTRY/REPOSITORY:NAME-lock-HEX`.
        public var reference: String
        /// The artifact manifest's digest.
        public var manifest: Digest
        /// Distinct debs it lists.
        public var debs: Int
        /// Distinct wheels it lists.
        public var wheels: Int
        /// Their bytes.
        public var bytes: Int64
        /// `created`, or `unchanged` when the tag already named this manifest.
        public var action: ImagePusher.TagAction
    }

    /// What a mirror run did.
    public struct Report: Codable, Hashable, Sendable {
        /// `REGISTRY/REPOSITORY`.
        public var repository: String
        /// Each lock, in the order named.
        public var images: [ImageReport]
        /// Artifacts fetched into the local cache first (it lacked them).
        public var fetched: Int
        /// Blobs sent.
        public var uploaded: Int
        /// Blobs the repository held already.
        public var existing: Int
        /// Bytes sent.
        public var bytesUploaded: Int64
    }

    let client: RegistryClient
    let options: Options
    let progress: ProgressSink

    /// A pusher over a client of the destination's registry. `progress` gets a note per step,
    /// the fetcher's items, and a `push` item per blob sent (its file name): the bytes sent.
    public init(client: RegistryClient, options: Options, progress: ProgressSink = .none) {
        self.client = client
        self.options = options
        self.progress = progress
    }

    /// The blobs of `digests` that `repository` holds (`HEAD` each, several at once).
    func heldBlobs(_ digests: [Digest], in repository: String) async throws -> Set<Digest> {
        let found = Mutex<Set<Digest>>([])
        let client = self.client
        try await Parallel.asyncForEach(Array(Set(digests)).sorted(), width: options.jobs) { digest in
            if try await client.blobExists(repository, digest) { found.withLock { _ = $0.insert(digest) } }
        }
        return found.withLock { $0 }
    }

    /// Mirrors the locks of `names` (`Images/NAME.lock.json`).
    public func push(_ names: [String]) async throws -> Report {
        let repository = options.destination.repository
        let location = "\(options.destination.registry)/\(repository)"

        // 1. Every lock read, and the artifacts the repository lacks in the local cache, before
        //    anything is sent: what the repository holds already costs a HEAD, not a download.
        try await client.probe()
        var manifests: [ArtifactMirrorManifest] = []
        var files: [Digest: String] = [:]
        var held = Set<Digest>()
        var fetched = 0
        for name in names {
            let spec = try SpecLoader(directory: options.build.images).load(name)
            let lockPath = "\(options.build.images)/\(name).lock.json"
            let lockBytes = try FileReader.readAll(path: lockPath, limit: 64 << 20)
            let lock = try Lockfile.load(path: lockPath)
            let manifest = ArtifactMirrorManifest(image: name, lock: lock, lockSHA256: Digest.of(lockBytes))
            do {
                try ImageReference.validateTag(manifest.tag)
            } catch {
                throw RegistryStoreError.invalidMirrorTag(image: name, tag: manifest.tag)
            }
            for platformLock in lock.perPlatform {
                if lock.platforms.count > 1 { progress("\(name) \(platformLock.platform):") }
                held.formUnion(try await heldBlobs(platformLock.debs.map(\.sha256) + platformLock.wheels.map(\.sha256), in: repository))
                let result = try await options.build.fetcher(for: spec.forPlatform(platformLock.platform)).fetch(
                    debs: platformLock.debs.filter { !held.contains($0.sha256) }, wheels: platformLock.wheels.filter { !held.contains($0.sha256) },
                    offline: options.build.offline, image: name, progress: progress)
                fetched += result.fetchedCount
                files.merge(result.paths) { first, _ in first }
            }
            for entry in manifest.artifacts where files[entry.artifact.sha256] == nil && !held.contains(entry.artifact.sha256) {
                throw RegistryStoreError.mirrorArtifactMissing(image: name, fileName: entry.artifact.fileName)
            }
            manifests.append(manifest)
        }

        // 2. The blobs the repository lacks, big ones first, several at once; the empty config too.
        var blobs: [Digest: (descriptor: Descriptor, file: BlobFile, title: String)] = [:]
        for manifest in manifests {
            for entry in manifest.artifacts where !held.contains(entry.artifact.sha256) {
                let artifact = entry.artifact
                blobs[artifact.sha256] = (
                    Descriptor(mediaType: artifact.mediaType, digest: artifact.sha256, size: artifact.size),
                    BlobFile(path: files[artifact.sha256]!, offset: 0, size: artifact.size), artifact.fileName)  // checked above
            }
        }
        let cache = try ArtifactCache(directory: "\(options.build.cacheDirectory)/artifacts")
        let scratch = try cache.makeTemporaryDirectory("mirror-push")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let empty = ArtifactMirrorManifest.emptyConfig
        try AtomicFileWriter.write(Array("{}".utf8), to: "\(scratch)/empty.json")
        blobs[empty.digest] = (empty, BlobFile(path: "\(scratch)/empty.json", offset: 0, size: empty.size), "empty config")

        let tally = Mutex<(uploaded: Int, existing: Int, bytes: Int64, done: Int)>((0, held.count, 0, 0))
        let total = blobs.count
        let ordered = blobs.values.sorted { ($0.descriptor.size, $0.descriptor.digest) > ($1.descriptor.size, $1.descriptor.digest) }
        let client = self.client, progress = self.progress
        try await Parallel.asyncForEach(ordered, width: options.jobs) { blob in
            let exists = try await client.blobExists(repository, blob.descriptor.digest)
            if !exists {
                let counter = ProgressCounter(ProgressItem(.push, blob.title), total: blob.descriptor.size, sink: progress)
                _ = try await client.pushBlob(repository, descriptor: blob.descriptor, file: blob.file, progress: counter.add)
                counter.finish()
            }
            let done = tally.withLock {
                if exists { $0.existing += 1 } else { $0.uploaded += 1; $0.bytes += blob.descriptor.size }
                $0.done += 1
                return $0.done
            }
            progress("blob \(done)/\(total) \(blob.title) \(ByteCount.text(blob.descriptor.size)): \(exists ? "already there" : "uploaded")")
        }

        // 3. Each lock's manifest under its own tag, once every blob it names is in place.
        var reports: [ImageReport] = []
        for manifest in manifests {
            let bytes = try manifest.encoded()
            let digest = Digest.of(bytes)
            let current = try await client.manifestDigest(repository, reference: manifest.tag)
            if current != digest {
                try await client.putManifest(repository, reference: manifest.tag, bytes: bytes, mediaType: .imageManifest)
            }
            let reference = "\(location):\(manifest.tag)"
            progress("\(reference): \(manifest.artifacts.count) artifacts, \(current == digest ? "already there" : "tagged") \(digest)")
            let debs = manifest.artifacts.filter { $0.artifact.kind == .deb }.count
            reports.append(ImageReport(
                image: manifest.image, lockSHA256: manifest.lockSHA256,
                platforms: manifest.platforms,
                reference: reference, manifest: digest, debs: debs, wheels: manifest.artifacts.count - debs,
                bytes: manifest.artifacts.reduce(0) { $0 + $1.artifact.size }, action: current == digest ? .unchanged : .created))
        }
        let final = tally.withLock { $0 }
        return Report(
            repository: location, images: reports, fetched: fetched, uploaded: final.uploaded, existing: final.existing,
            bytesUploaded: final.bytes)
    }
}
