import Layers
import OCI
import Rootfs
import SystemSupport

/// A store of packed layers beyond this machine — a registry that every CI runner reaches —
/// consulted after the local layer cache (docs/shared-cache.md). A layer is kept under the key
/// of its inputs (``LayerPlan``) with what describes it, and the declared facts of the
/// component's own artifacts, so that a build that takes the layer needs none of them: not to
/// pack, and not for the bills of materials.
///
/// ImageGen knows the store through this protocol alone; RegistryStore implements it over the
/// registry client.
public protocol RemoteLayerCache: Sendable {
    /// Where layers are looked up, for messages (`127.0.0.1:5000/team/cache`).
    var name: String { get }
    /// The layer recorded under `key`, or nil when the store has none.
    func lookup(_ key: Digest) async throws -> RemoteLayer?
    /// Records a layer packed (or found) here under `key`: its blob at `blob`, the facts of its
    /// own artifacts. Returns the bytes sent, or nil when the store held the key already.
    /// `progress` gets a `push` item for the blob, named by `component`, when it is sent.
    func store(
        _ key: Digest, component: String, layer: PackedLayer, blob: String, facts: [Digest: PackageFacts], progress: ProgressSink
    ) async throws -> Int64?
    /// Downloads a layer's blob to `path`, verified against its digest and size; `progress`
    /// gets a `pull` item for it.
    func download(_ layer: RemoteLayer, to path: String, progress: ProgressSink) async throws
    /// Whether the store can take layers (`--cache-to`), not only give them.
    var writes: Bool { get }
}

/// A layer a ``RemoteLayerCache`` holds.
public struct RemoteLayer: Sendable {
    /// What it packed to.
    public var layer: PackedLayer
    /// The declared facts of the component's own artifacts, by SHA-256.
    public var facts: [Digest: PackageFacts]
    /// The repository that holds its blob (`registry/repository`), to mount it from.
    public var repository: String

    /// A record.
    public init(layer: PackedLayer, facts: [Digest: PackageFacts], repository: String) {
        self.layer = layer
        self.facts = facts
        self.repository = repository
    }
}
