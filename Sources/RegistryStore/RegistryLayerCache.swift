import Foundation
import ImageGen
import Layers
import OCI
import Registry
import Rootfs
import SystemSupport

/// A layer cache in a repository of a registry (`--cache-from`, `--cache-to`).
///
/// Each layer is one artifact manifest, tagged `layer-HEX` by the key of its inputs
/// (``imageArtifactType``): its empty config, the layer blob itself as the first entry of
/// `layers` (so the registry keeps it, and a build can mount it into the image's repository),
/// and a JSON blob of the declared facts of the component's own artifacts (so the bills of
/// materials need none of them). The annotations say what the image configuration needs of a
/// layer: its diff_id, uncompressed size and entry count. One tag per key makes concurrent
/// writers safe: two runners that pack one key write the same record.
public struct RegistryLayerCache: RemoteLayerCache {
    /// The artifact type of a layer record.
    public static let artifactType = MediaType.imagegenLayerCache
    /// The media type of the facts blob.
    public static let factsType = MediaType.imagegenPackageFacts

    /// Annotation keys of a record.
    enum Key {
        static let key = "io.imagegen.cache.key"
        static let component = "io.imagegen.cache.component"
        static let diffID = "io.imagegen.cache.diff-id"
        static let uncompressedSize = "io.imagegen.cache.uncompressed-size"
        static let entries = "io.imagegen.cache.entries"
    }

    /// A repository of a registry, with a client of that registry.
    public struct Place: Sendable {
        public let client: RegistryClient
        public let repository: String

        /// `repository` of `client`'s registry.
        public init(client: RegistryClient, repository: String) {
            self.client = client
            self.repository = repository
        }

        /// `registry/repository`.
        public var name: String { "\(client.registry)/\(repository)" }
    }

    /// Where layers are looked up (`--cache-from`), in order.
    let sources: [Place]
    /// Where layers are recorded (`--cache-to`).
    let destination: Place?

    /// A cache read from `sources` and written to `destination`.
    public init(from sources: [Place], to destination: Place?) {
        self.sources = sources
        self.destination = destination
    }

    public var writes: Bool { destination != nil }

    public var name: String { (sources.first ?? destination)?.name ?? "(none)" }

    /// The tag of a key's record.
    public static func tag(_ key: Digest) -> String { "layer-\(key.encoded)" }

    public func lookup(_ key: Digest) async throws -> RemoteLayer? {
        for place in sources {
            if let found = try await lookup(key, in: place) { return found }
        }
        return nil
    }

    /// The record of `key` in one repository.
    func lookup(_ key: Digest, in place: Place) async throws -> RemoteLayer? {
        let client = place.client, repository = place.repository
        let fetched: RegistryClient.FetchedManifest
        do {
            fetched = try await client.manifest(repository, reference: Self.tag(key))
        } catch RegistryError.notFound {
            return nil
        }
        let what = "\(place.name):\(Self.tag(key))"
        let manifest: Manifest
        do {
            manifest = try CanonicalJSON.decode(Manifest.self, from: fetched.bytes, name: what)
        } catch {
            throw RegistryStoreError.invalidRecord(reference: what, reason: "not a JSON manifest (\(error))")
        }
        guard manifest.artifactType == Self.artifactType, let blob = manifest.layers.first,
            let annotations = manifest.annotations, annotations[Key.key] == key.description,
            let diffText = annotations[Key.diffID], let diffID = try? Digest(parsing: diffText),
            let sizeText = annotations[Key.uncompressedSize], let uncompressed = Int64(sizeText),
            let entriesText = annotations[Key.entries], let entries = Int(entriesText)
        else {
            throw RegistryStoreError.invalidRecord(
                reference: what, reason: "expected an \(Self.artifactType) manifest naming key \(key), a layer and its diff-id, uncompressed size and entry count")
        }
        var layerDescriptor = blob
        layerDescriptor.annotations = nil
        var facts: [Digest: PackageFacts] = [:]
        if let factsBlob = manifest.layers.dropFirst().first(where: { $0.mediaType == Self.factsType }) {
            guard factsBlob.size <= 16 << 20 else {
                throw RegistryStoreError.invalidRecord(reference: what, reason: "its facts blob is \(factsBlob.size) bytes, over 16 MiB")
            }
            let bytes = try await client.blob(repository, descriptor: factsBlob)
            let decoded: [String: PackageFacts]
            do {
                decoded = try CanonicalJSON.decode([String: PackageFacts].self, from: bytes, name: "\(what) facts")
            } catch {
                throw RegistryStoreError.invalidRecord(reference: what, reason: "its facts blob is not a map of SHA-256 to package facts (\(error))")
            }
            for (sha256, fact) in decoded {
                guard let digest = try? Digest(parsing: sha256) else {
                    throw RegistryStoreError.invalidRecord(reference: what, reason: "its facts name '\(sha256)', not a digest")
                }
                facts[digest] = fact
            }
        }
        let layer = PackedLayer(descriptor: layerDescriptor, diffID: diffID, uncompressedSize: uncompressed, entryCount: entries)
        return RemoteLayer(layer: layer, facts: facts, repository: place.name)
    }

    public func store(
        _ key: Digest, component: String, layer: PackedLayer, blob: String, facts: [Digest: PackageFacts], progress: ProgressSink = .none
    ) async throws -> Int64? {
        guard let destination else { return nil }
        let client = destination.client, repository = destination.repository
        if try await client.manifestDigest(repository, reference: Self.tag(key)) != nil { return nil }
        var sent: Int64 = 0
        let descriptor = layer.descriptor
        if try await !client.blobExists(repository, descriptor.digest) {
            let counter = ProgressCounter(ProgressItem(.push, component), total: descriptor.size, sink: progress)
            let outcome = try await client.pushBlob(
                repository, descriptor: descriptor, file: BlobFile(path: blob, offset: 0, size: descriptor.size), progress: counter.add)
            counter.finish(done: outcome == .uploaded ? descriptor.size : 0)
            if outcome == .uploaded { sent += descriptor.size }
        }
        let factsBytes = try CanonicalJSON.encode(Dictionary(uniqueKeysWithValues: facts.map { ($0.key.description, $0.value) }))
        let factsDescriptor = Descriptor(mediaType: Self.factsType, digest: Digest.of(factsBytes), size: Int64(factsBytes.count))
        let empty = Descriptor.emptyJSON
        for (small, bytes) in [(factsDescriptor, factsBytes), (Descriptor(mediaType: .empty, digest: empty.digest, size: empty.size), Array("{}".utf8))] {
            if try await !client.blobExists(repository, small.digest) {
                _ = try await client.pushBlob(repository, descriptor: small, bytes: bytes)
                sent += small.size
            }
        }
        var manifest = Manifest(config: empty, layers: [descriptor, factsDescriptor], annotations: [
            Key.key: key.description, Key.component: component, Key.diffID: layer.diffID.description,
            Key.uncompressedSize: "\(layer.uncompressedSize)", Key.entries: "\(layer.entryCount)",
        ])
        manifest.artifactType = Self.artifactType
        let bytes = try CanonicalJSON.encode(manifest)
        try await client.putManifest(repository, reference: Self.tag(key), bytes: bytes, mediaType: .imageManifest)
        return sent + Int64(bytes.count)
    }

    public func download(_ layer: RemoteLayer, to path: String, progress: ProgressSink = .none) async throws {
        let descriptor = layer.layer.descriptor
        let counter = ProgressCounter(ProgressItem(.pull, descriptor.digest.short), total: descriptor.size, sink: progress)
        try await fetch(descriptor, from: layer.repository, to: path, progress: counter.add)
        counter.finish()
    }

    /// Downloads a blob of the repository named `repository` (`registry/repository`, one of
    /// this cache's) to `path`, verified; `progress` gets the bytes received.
    public func fetch(
        _ descriptor: Descriptor, from repository: String, to path: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        guard let place = place(named: repository) else {
            throw RegistryStoreError.unknownRepository(repository)
        }
        try await place.client.pullBlob(place.repository, descriptor: descriptor, to: path, progress: progress)
    }

    /// The repository path of the cache repository `repository` (`registry/repository`) when it
    /// is on `registry`: a blob there can be mounted into another repository of that registry.
    public func mountSource(_ repository: String, on registry: String) -> String? {
        guard let place = place(named: repository), place.client.registry == registry else { return nil }
        return place.repository
    }

    /// The cache's repositories on `registry`: blobs there can be mounted into another repository of it.
    public func repositories(on registry: String) -> [String] {
        (sources + (destination.map { [$0] } ?? [])).filter { $0.client.registry == registry }.map(\.repository)
    }

    func place(named name: String) -> Place? {
        (sources + (destination.map { [$0] } ?? [])).first { $0.name == name }
    }
}
