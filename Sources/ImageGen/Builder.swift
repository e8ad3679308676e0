import Artifacts
import Foundation
import ImageModel
import Layers
import OCI
import Rootfs
import Synchronization
import SystemSupport

/// `imagegen build`: turns a lock into an image — artifacts fetched and verified, one layer per
/// component built from that component's artifacts only, unchanged layers reused from the layer
/// cache, then the layout and the archive written atomically.
public struct Builder: Sendable {
    /// Everything a build needs besides the spec.
    public struct Options: Sendable {
        /// The directory of specs and locks.
        public var images: String
        /// The catalog.
        public var catalog: Catalog
        /// The cache root (`artifacts/`, `layers/`, `apt/`, `work/` below it).
        public var cacheDirectory: String
        /// Where `NAME/` and `NAME.tar` go.
        public var outputDirectory = "out"
        /// Build from the cache alone.
        public var offline = false
        /// apt sources for fetching (default: the host's).
        public var aptSources: AptResolver.Sources = .host
        /// pip index for fetching (default: pip's own configuration).
        public var pipIndexURL: String?
        /// Extra pip indexes.
        public var pipExtraIndexURLs: [String] = []
        /// Whether pip reads the host's configuration.
        public var pipUsesHostConfiguration = true
        /// The pip command.
        public var pipCommand: [String] = ["python3", "-m", "pip"]
        /// A registry that keeps the locked artifacts, asked after the cache and before apt and
        /// pip (`--artifacts-from`, docs/artifact-mirror.md); nil for none.
        public var artifactMirror: (any ArtifactMirror)?
        /// Layer compression.
        public var compression: Compression = .gzip
        /// Threads for compression.
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Carry the wheels' deflate streams into gzip layers as they are (false: `--recompress`).
        public var reuseDeflateStreams = true
        /// How many layers are made and packed at once (bounded for memory: each holds its
        /// compressor's blocks, and a zstd layer its workers' windows).
        public var parallelLayers = 2
        /// `SOURCE_DATE_EPOCH`, when set: the time of every file in the layers, and the
        /// image's `created` date instead of the lock's `resolved` (``BuildTime``).
        public var sourceDateEpoch: BuildTime?
        /// The source revision for `org.opencontainers.image.revision`, when known.
        public var revision: String?
        /// The source URL for `org.opencontainers.image.source`, when known.
        public var sourceURL: String?
        /// The platforms to build of a multi-platform lock (`--platform`); nil for every one.
        /// One platform gives that platform's image alone, as a spec that lists only it would.
        public var platforms: [String]?
        /// Where to look for the host `python3.X` that byte-compiles the image's Python files: a
        /// `PATH`-style list of directories; nil for `PATH` (``HostPython``, docs/building.md).
        public var hostPythonPath: String?
        /// imagegen's version, for the bills of materials and the provenance.
        public var toolVersion = ImageGenVersion.current
        /// Write the bills of materials and the provenance beside the image.
        public var writesSupplyChain = true
        /// A layer cache in a registry (`--cache-from`, `--cache-to`), consulted after the local
        /// one; a build takes a layer it holds without fetching the layer's artifacts or packing it.
        public var remoteCache: (any RemoteLayerCache)?
        /// Write `NAME/` and `NAME.tar`. Off when the image goes straight to a registry (`build
        /// --to`): the layers only the registry cache holds are then not downloaded, and the
        /// report's `layout` is a staging layout of the documents and the local layers, which the
        /// caller pushes (mounting the rest) and removes.
        public var writesImage = true

        /// Options with defaults.
        public init(images: String, catalog: Catalog, cacheDirectory: String) {
            self.images = images
            self.catalog = catalog
            self.cacheDirectory = cacheDirectory
        }

        /// The time of every file in the layers (and of the archive's entries): never the lock's
        /// date, so a re-lock leaves the layers whose artifacts it kept as they were.
        var fileTime: BuildTime { BuildTime.fileTime(sourceDateEpoch: sourceDateEpoch) }

        /// The `created` date of an image made from `lock`.
        func created(_ lock: Lockfile) -> BuildTime {
            BuildTime.created(sourceDateEpoch: sourceDateEpoch, resolved: lock.resolved)
        }
    }

    /// One layer of the report.
    public struct LayerReport: Codable, Sendable {
        /// The component.
        public var component: String
        /// The blob digest.
        public var digest: Digest
        /// The diff_id.
        public var diffID: Digest
        /// Compressed size.
        public var size: Int64
        /// Uncompressed size.
        public var uncompressedSize: Int64
        /// Whether the layer came from a cache (local or registry).
        public var reused: Bool
        /// Where it came from.
        public var source: LayerSource
    }

    /// Where a layer of a build came from.
    public enum LayerSource: String, Codable, Sendable {
        /// Made and packed by this build.
        case packed
        /// The local layer cache.
        case local
        /// The registry cache (`--cache-from`).
        case registry
    }

    /// A layer blob the build did not download: the registry cache holds it (`writesImage` off).
    public struct RemoteBlob: Codable, Sendable {
        /// The blob.
        public var descriptor: Descriptor
        /// `registry/repository` that holds it.
        public var repository: String
    }

    /// One platform's image of a build.
    public struct PlatformReport: Codable, Sendable {
        /// `linux/amd64`.
        public var platform: String
        /// The layers, base first.
        public var layers: [LayerReport]
        /// The platform's manifest digest.
        public var manifest: Digest
    }

    /// What a build made.
    public struct Report: Codable, Sendable {
        /// The image name.
        public var image: String
        /// The first platform's layers, base first.
        public var layers: [LayerReport]
        /// The image digest, the one the tags name: the manifest of a one-platform image, the
        /// image index of a multi-platform one.
        public var manifest: Digest
        /// Each platform's image, in the spec's order.
        public var platforms: [PlatformReport]
        /// The layout directory.
        public var layout: String
        /// The archive.
        public var archive: String
        /// Artifacts fetched (not found in the cache).
        public var fetched: Int
        /// The bills of materials and provenance written beside the image (docs/supply-chain.md).
        public var supplyChain: [String] = []
        /// Bytes of artifacts downloaded.
        public var fetchedBytes: Int64 = 0
        /// Layers recorded in the registry cache (`--cache-to`), and the bytes sent for them.
        public var cachedToRegistry = 0
        public var bytesToRegistry: Int64 = 0
        /// Bytes of layers downloaded from the registry cache.
        public var bytesFromRegistry: Int64 = 0
        /// With `writesImage` off: the layer blobs `layout` lacks, which the registry cache holds.
        public var remoteBlobs: [RemoteBlob] = []
    }

    let options: Options
    let progress: ProgressSink

    /// A builder. `progress` gets a note per step, the fetcher's `fetch` and `verify` items
    /// (``ArtifactFetcher/fetch(debs:wheels:offline:image:progress:)``), and a `pack` item per
    /// layer made: its tar's bytes written of the tar's length.
    public init(options: Options, progress: ProgressSink = .none) {
        self.options = options
        self.progress = progress
    }

    /// The version of the layer recipes: part of every layer key, so a change in how trees are
    /// made re-packs every layer once.
    static let recipeVersion = "imagegen-layers-3"

    /// Builds `name` from its lock.
    public func build(_ name: String) async throws -> Report {
        let started = BuildTime.now()
        let (spec, lock, lockPath) = try loadLocked(name)
        var platforms = lock.platforms
        if let wanted = options.platforms {
            for platform in wanted where !platforms.contains(platform) {
                throw ImageGenError.invalidOption(
                    name: "--platform", value: platform, expected: "a platform \(lockPath) resolves: \(platforms.joined(separator: ", "))")
            }
            platforms = platforms.filter(wanted.contains)
        }
        let layerCache = try LayerCache(directory: "\(options.cacheDirectory)/layers")
        let facts = try FactsCache(cacheDirectory: options.cacheDirectory, image: name)
        var images: [ImageWriter.PlatformImage] = []
        var layerReports: [[LayerReport]] = []
        var totals = Totals()
        for platform in platforms {
            guard let platformLock = lock.forPlatform(platform) else { continue }
            if platforms.count > 1 { progress("\(platform):") }
            let (image, layers) = try await build(spec.forPlatform(platform), lock: platformLock, cache: layerCache, facts: facts, totals: &totals)
            images.append(image)
            layerReports.append(layers)
        }

        // The image: one manifest per platform, an index of them when there are several. Without
        // an output of its own (`writesImage` off) it is staged in the cache's work directory
        // without the layers only the registry cache holds, for the caller to push.
        let output = options.writesImage
            ? "\(options.outputDirectory)/\(name)" : "\(options.cacheDirectory)/work/publish-\(name)-\(getpid())/\(name)"
        if !options.writesImage { try? FileManager.default.removeItem(atPath: output) }
        let staging = try ImageWriter.makeStaging(for: output)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try LayoutWriter(path: "\(staging)/layout")
        var remoteBlobs: [Digest: RemoteBlob] = [:]
        for image in images {
            for layer in image.layers {
                if let remote = totals.remote[layer.descriptor.digest], !layerCache.holds(layer.descriptor.digest) {
                    remoteBlobs[layer.descriptor.digest] = RemoteBlob(descriptor: layer.descriptor, repository: remote)
                } else {
                    try layerCache.export(layer, to: layout)
                }
            }
        }
        let writer = ImageWriter(
            output: output, format: options.writesImage ? .both : .layout, tags: spec.config.tags, repository: "imagegen/\(name)",
            platform: images[0].platform, mtime: options.fileTime.seconds)
        let written = try writer.finish(layout: layout, images: images)
        let reports = images.indices.map {
            PlatformReport(platform: "\(images[$0].platform)", layers: layerReports[$0], manifest: written.manifests[$0].manifest.digest)
        }
        var report = Report(
            image: name, layers: reports[0].layers, manifest: written.target.digest, platforms: reports,
            layout: output, archive: options.writesImage ? output + ".tar" : "", fetched: totals.fetched)
        report.fetchedBytes = totals.fetchedBytes
        report.cachedToRegistry = totals.cachedToRegistry
        report.bytesToRegistry = totals.bytesToRegistry
        report.bytesFromRegistry = totals.bytesFromRegistry
        report.remoteBlobs = remoteBlobs.values.sorted { $0.descriptor.digest < $1.descriptor.digest }
        if options.writesSupplyChain {
            try FileManager.default.createDirectory(atPath: options.outputDirectory, withIntermediateDirectories: true)
            var supply = SupplyChainFiles.Options(images: options.images, cacheDirectory: options.cacheDirectory, toolVersion: options.toolVersion)
            supply.buildOptions = byteOptions
            supply.checksRecordedBuild = false
            supply.started = started
            supply.finished = BuildTime.now()
            report.supplyChain = try SupplyChainFiles.write(
                name: name, image: output, options: supply, beside: "\(options.outputDirectory)/\(name)")
        }
        return report
    }

    /// What the platforms of one build add up to.
    struct Totals {
        var fetched = 0
        var fetchedBytes: Int64 = 0
        var cachedToRegistry = 0
        var bytesToRegistry: Int64 = 0
        var bytesFromRegistry: Int64 = 0
        /// Layers taken from the registry cache, by blob digest: the repository holding each.
        var remote: [Digest: String] = [:]
    }

    /// The spec `name` and its lock, refusing a stale lock.
    func loadLocked(_ name: String) throws -> (ImageSpec, Lockfile, String) {
        let spec = try SpecLoader(directory: options.images).load(name)
        let lockPath = "\(options.images)/\(name).lock.json"
        let lock = try Lockfile.load(path: lockPath)
        guard try lock.matches(spec) else {
            throw ImageGenError.staleLock(lock: lockPath, spec: "\(options.images)/\(name).yaml", image: name)
        }
        return (spec, lock, lockPath)
    }

    /// The options that change the image's bytes, as the provenance lists them.
    var byteOptions: [String: String] {
        var values = [
            "compression": options.compression.description,
            "reuseDeflateStreams": "\(options.reuseDeflateStreams)",
        ]
        if let epoch = options.sourceDateEpoch { values["sourceDateEpoch"] = "\(epoch.seconds)" }
        if let revision = options.revision { values["revision"] = revision }
        if let url = options.sourceURL { values["sourceURL"] = url }
        if let platforms = options.platforms { values["platforms"] = platforms.joined(separator: ",") }
        return values
    }

    /// One platform's layers and configuration: `spec` and `lock` are that platform's.
    private func build(
        _ spec: ImageSpec, lock: Lockfile, cache layerCache: LayerCache, facts: FactsCache, totals: inout Totals
    ) async throws -> (ImageWriter.PlatformImage, [LayerReport]) {
        // A spec that follows a torch series resolves to the release its lock holds.
        let image = try ImageResolver(catalog: options.catalog).resolve(spec, lockedTorch: lock.torchVersion)
        let plan = try LayerPlan(image: image, lock: lock, options: options)

        // 1. Each layer from the local layer cache, else from the registry cache, when its
        //    inputs did not change: the keys come from the lock alone, before anything is fetched.
        var found: [Int: (layer: PackedLayer, source: LayerSource)] = [:]
        var remote: [Int: RemoteLayer] = [:]
        for (index, step) in plan.steps.enumerated() {
            if let hit = layerCache.lookup(step.key) {
                progress("layer \(step.component.rawValue): reused \(hit.descriptor.digest.short)")
                found[index] = (hit, .local)
            } else if let cache = options.remoteCache, let hit = try await cache.lookup(step.key) {
                progress("layer \(step.component.rawValue): in the registry cache \(cache.name) \(hit.layer.descriptor.digest.short) (\(ByteCount.text(hit.layer.descriptor.size)))")
                found[index] = (hit.layer, .registry)
                remote[index] = hit
                for (sha256, fact) in hit.facts { try facts.remember(sha256, fact) }
            }
        }
        let missing = plan.steps.indices.filter { found[$0] == nil }

        // 2. The artifacts of the layers still to make, and of any whose declared facts the
        //    bills of materials or the registry cache need and no one remembers: fetched and
        //    verified against the lock.
        var wanted = Set(missing.flatMap { plan.steps[$0].inputs })
        let needsFacts = options.writesSupplyChain || options.remoteCache?.writes == true
        let unremembered = needsFacts ? Set((lock.debs.map(\.sha256) + lock.wheels.map(\.sha256)).filter { facts.remembered($0) == nil }) : []
        wanted.formUnion(unremembered)
        var files: LayerPlan.Files = [:]
        if wanted.isEmpty {
            progress("artifacts: none needed, every layer is cached")
        } else {
            let fetched = try await options.fetcher(for: spec).fetch(
                debs: lock.debs.filter { wanted.contains($0.sha256) }, wheels: lock.wheels.filter { wanted.contains($0.sha256) },
                offline: options.offline, image: lock.image, progress: progress)
            files = fetched.paths
            totals.fetched += fetched.fetchedCount
            totals.fetchedBytes += fetched.fetchedBytes
        }

        // 3. The rest made and packed into the local layer cache; unpacking a deb records its
        //    declared facts on the way. Meanwhile one more thread reads the other facts the
        //    bills of materials will need from the artifacts (the debs of layers not made here, a
        //    wheel's METADATA): packing leaves a core idle at times, and these reads would
        //    otherwise run alone after the last layer.
        let unpacked = Set(missing.flatMap { index in lock.debs.filter { $0.component == plan.steps[index].component }.map(\.sha256) })
        let unreadDebs = options.writesSupplyChain
            ? lock.debs.filter { !unpacked.contains($0.sha256) && unremembered.contains($0.sha256) } : []
        let unreadWheels = options.writesSupplyChain ? lock.wheels.filter { unremembered.contains($0.sha256) } : []
        async let factsRead: Void = Parallel.offPool {
            for deb in unreadDebs { _ = try facts.facts(deb: deb) }
            for wheel in unreadWheels { _ = try facts.facts(wheel: wheel) }
        }
        let made: [Int: PackedLayer]
        do {
            made = try await packMissing(missing.map { (index: $0, step: plan.steps[$0]) }, files: files, cache: layerCache, facts: facts)
        } catch {
            _ = try? await factsRead
            throw error
        }
        try await factsRead
        for (index, layer) in made { found[index] = (layer, .packed) }

        // 4. A layout of our own needs the registry cache's layers here: downloaded, verified,
        //    and kept in the local layer cache.
        if options.writesImage, let cache = options.remoteCache {
            for (index, hit) in remote.sorted(by: { $0.key < $1.key }) where !layerCache.holds(hit.layer.descriptor.digest) {
                progress("layer \(plan.steps[index].component.rawValue): downloading \(ByteCount.text(hit.layer.descriptor.size)) from \(cache.name)")
                try await cache.download(hit, to: layerCache.blobs.blobPath(hit.layer.descriptor.digest), progress: progress)
                try layerCache.record(plan.steps[index].key, hit.layer)
                totals.bytesFromRegistry += hit.layer.descriptor.size
            }
        }
        for (_, hit) in remote where !layerCache.holds(hit.layer.descriptor.digest) {
            totals.remote[hit.layer.descriptor.digest] = hit.repository
        }

        // 5. `--cache-to`: the registry cache records every layer here that it lacks, with the
        //    facts of the component's own artifacts.
        if let cache = options.remoteCache, cache.writes {
            for (index, step) in plan.steps.enumerated() {
                let layer = found[index]!.layer  // every step was found or made
                guard layerCache.holds(layer.descriptor.digest) else { continue }
                var own: [Digest: PackageFacts] = [:]
                for deb in lock.debs where deb.component == step.component { own[deb.sha256] = try facts.facts(deb: deb) }
                for wheel in lock.wheels where wheel.component == step.component { own[wheel.sha256] = try facts.facts(wheel: wheel) }
                let blob = layerCache.blobs.blobPath(layer.descriptor.digest)
                if let sent = try await cache.store(step.key, component: step.component.rawValue, layer: layer, blob: blob, facts: own, progress: progress) {
                    progress("layer \(step.component.rawValue): recorded in the registry cache \(cache.name) (\(ByteCount.text(sent)) sent)")
                    totals.cachedToRegistry += 1
                    totals.bytesToRegistry += sent
                }
            }
        }

        let packed = plan.steps.indices.map { (plan.steps[$0], found[$0]!.layer, found[$0]!.source) }
        let platformImage = ImageWriter.PlatformImage(
            platform: Platform(architecture: spec.base.architecture, os: "linux"), layers: packed.map(\.1),
            configuration: plan.configuration(layers: packed.map { ($0.0, $0.1) }), annotations: plan.annotations)
        let layers = packed.map { step, layer, source in
            LayerReport(
                component: step.component.rawValue, digest: layer.descriptor.digest, diffID: layer.diffID,
                size: layer.descriptor.size, uncompressedSize: layer.uncompressedSize, reused: source != .packed, source: source)
        }
        return (platformImage, layers)
    }

    /// Makes and packs the layers the cache lacks, up to `parallelLayers` at once, the costliest
    /// first (so that a long layer does not start last and run alone). Each layer is made from
    /// its own inputs only, so the order they are made and finish in changes nothing.
    private func packMissing(
        _ missing: [(index: Int, step: LayerPlan.Step)], files: LayerPlan.Files, cache: LayerCache, facts: FactsCache
    ) async throws -> [Int: PackedLayer] {
        guard !missing.isEmpty else { return [:] }
        let missing = missing.sorted { ($0.step.estimatedCost, $1.index) > ($1.step.estimatedCost, $0.index) }
        let width = max(1, min(options.parallelLayers, missing.count))
        let failed = Atomic<Bool>(false)
        let progress = self.progress
        // Each layer's outcome is kept (not thrown) so that the failure reported is the first in
        // plan order, not the first in the costliest-first order the layers are made in.
        let outcomes = try await Parallel.offPool {
            Parallel.map(missing, width: width) { index, step -> (index: Int, outcome: Result<PackedLayer, any Error>)? in
                // Nothing new starts once a layer failed.
                guard !failed.load(ordering: .relaxed) else { return nil }
                let started = ContinuousClock.now
                let outcome = Result<PackedLayer, any Error> {
                    let layer = try buildLayer(step, files: files, into: cache, facts: facts)
                    try cache.record(step.key, layer)
                    return layer
                }
                switch outcome {
                case .success(let layer):
                    let seconds = (ContinuousClock.now - started).components.seconds
                    progress(
                        "layer \(step.component.rawValue): \(layer.entryCount) entries, \(ByteCount.text(layer.uncompressedSize)) → "
                            + "\(ByteCount.text(layer.descriptor.size)) \(layer.descriptor.digest.short) (\(seconds)s)")
                case .failure:
                    failed.store(true, ordering: .relaxed)
                }
                return (index, outcome)
            }
        }
        // The first failure in plan order is the one reported.
        return try Dictionary(uniqueKeysWithValues: outcomes.compactMap { $0 }.sorted { $0.index < $1.index }.map { ($0.index, try $0.outcome.get()) })
    }

    /// Makes a step's tree in a scratch directory, packs it into the layer cache, removes the tree.
    /// The `pack` item of the component starts with the tree, of a length known once the tree
    /// is made.
    func buildLayer(_ step: LayerPlan.Step, files: LayerPlan.Files, into cache: LayerCache, facts: FactsCache? = nil) throws -> PackedLayer {
        let work = "\(options.cacheDirectory)/work/\(step.key.encoded)-\(getpid())"
        try? FileManager.default.removeItem(atPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let root = "\(work)/root"
        // 0700: the tree keeps the packages' modes, setuid included (on files that belong to
        // whoever runs imagegen when that is not root); nobody else may reach them.
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let counter = ProgressCounter(ProgressItem(.pack, step.component.rawValue), total: nil, sink: progress)
        let made = try step.makeTree(root, files)
        for (sha256, declared) in made.facts { try facts?.remember(sha256, declared) }
        let sources = made.sources
        var entries = try DirectoryTree.entries(root: root, ownership: .preserve, mtime: options.fileTime.seconds)
        // A file whose bytes are a wheel's deflated member takes its content from that stream
        // (its length, inflated size and CRC-32 are checked while it is packed).
        for index in entries.indices where entries[index].header.kind == .regular {
            if let source = sources[entries[index].header.path], case .file = entries[index].content {
                entries[index].content = .deflated(source)
            }
        }
        let reuse = options.reuseDeflateStreams
        // zstd's workers hold large windows: layers packed side by side share the workers of one
        // layer (zstd's output does not depend on their number).
        let threads = options.compression.kind == .zstd
            ? min(options.threads, max(1, ZstdCompressor.maxWorkers / max(1, options.parallelLayers))) : options.threads
        counter.set(done: 0, total: try LayerWriter.size(of: entries))
        let layer = try LayerPacker.pack(
            entries, into: cache.blobs, compression: options.compression, threads: threads, reuseDeflateStreams: reuse
        ) { counter.set(done: $0) }
        counter.finish(done: layer.uncompressedSize)
        return layer
    }
}

extension Builder {
    /// One layer of ``cachePlan(_:)``.
    public struct CachedLayerPlan: Codable, Sendable {
        /// `linux/amd64`.
        public var platform: String
        /// The component.
        public var component: String
        /// The key of its inputs (the registry cache's tag is `layer-HEX` of it).
        public var key: Digest
        /// Whether the registry cache holds it.
        public var cached: Bool
        /// Locked artifacts' bytes a fresh runner fetches for it: its inputs, when not cached
        /// (an artifact two layers read is counted for the first).
        public var fetchBytes: Int64
        /// Bytes it packs and pushes (its own artifacts' sizes, the estimate before a build),
        /// when not cached; a cached layer is mounted, not sent.
        public var packBytes: Int64
    }

    /// What a fresh runner (an empty local cache) does to build `name` with the builder's
    /// registry cache: per platform and layer, whether the cache holds it, and the bytes fetched
    /// and packed. Reads the lock and the cache's records; fetches and packs nothing.
    public func cachePlan(_ name: String) async throws -> [CachedLayerPlan] {
        let (spec, lock, _) = try loadLocked(name)
        var result: [CachedLayerPlan] = []
        for platform in lock.platforms {
            guard let platformLock = lock.forPlatform(platform) else { continue }
            let platformSpec = spec.forPlatform(platform)
            let image = try ImageResolver(catalog: options.catalog).resolve(platformSpec, lockedTorch: platformLock.torchVersion)
            let plan = try LayerPlan(image: image, lock: platformLock, options: options)
            var sizes: [Digest: Int64] = [:]
            for deb in platformLock.debs { sizes[deb.sha256] = deb.size }
            for wheel in platformLock.wheels { sizes[wheel.sha256] = wheel.size }
            var fetched = Set<Digest>()
            for step in plan.steps {
                let cached = try await options.remoteCache?.lookup(step.key) != nil
                let own = (platformLock.debs.filter { $0.component == step.component }.map(\.size)
                    + platformLock.wheels.filter { $0.component == step.component }.map(\.size)).reduce(0, +)
                var fetchBytes: Int64 = 0
                if !cached {
                    for input in step.inputs.sorted() where fetched.insert(input).inserted { fetchBytes += sizes[input] ?? 0 }
                }
                result.append(CachedLayerPlan(
                    platform: platform, component: step.component.rawValue, key: step.key, cached: cached,
                    fetchBytes: fetchBytes, packBytes: cached ? 0 : own))
            }
        }
        return result
    }
}
