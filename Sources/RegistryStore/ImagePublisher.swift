import ImageGen
import OCI
import Registry
import SystemSupport

/// `imagegen build NAME --to REF`: pushes a build whose layers may be partly in a registry layer
/// cache and nowhere on this machine. Those are mounted from the cache repository when it is
/// on the destination's registry (or found there already), else copied through a temporary
/// file; the layers packed here are mounted from the cache too when `--cache-to` recorded them,
/// else uploaded; then the manifests and tags, as `push` does.
public struct ImagePublisher: Sendable {
    let client: RegistryClient
    let cache: RegistryLayerCache?
    let options: ImagePusher.Options
    let progress: ProgressSink

    /// A publisher over a client of the destination's registry, taking blobs from `cache`;
    /// `progress` gets what ``ImagePusher`` sends.
    public init(
        client: RegistryClient, cache: RegistryLayerCache?, options: ImagePusher.Options, progress: ProgressSink = .none
    ) {
        self.client = client
        self.cache = cache
        self.options = options
        self.progress = progress
    }

    /// Pushes the image `report` describes (its `layout`, and its `remoteBlobs` from the cache).
    public func publish(_ report: Builder.Report) async throws -> ImagePusher.Report {
        var options = self.options
        // A layer packed here that --cache-to recorded a moment ago is mounted, not sent again.
        for repository in cache?.repositories(on: client.registry) ?? [] where !options.mountFrom.contains(repository) {
            options.mountFrom.append(repository)
        }
        var holders: [Digest: String] = [:]
        for blob in report.remoteBlobs {
            holders[blob.descriptor.digest] = blob.repository
            options.elsewhere[blob.descriptor.digest] = .init(mountFrom: cache?.mountSource(blob.repository, on: client.registry))
        }
        if let cache {
            let holding = holders
            options.fetchElsewhere = { descriptor, path in
                guard let repository = holding[descriptor.digest] else { throw RegistryStoreError.unknownRepository(descriptor.digest.description) }
                try await cache.fetch(descriptor, from: repository, to: path)
            }
        }
        return try await ImagePusher(client: client, options: options, progress: progress).push(try openImage(report.layout))
    }
}
