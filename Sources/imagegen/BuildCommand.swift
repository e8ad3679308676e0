import Glibc
import ArgumentParser
import Artifacts
import Foundation
import ImageGen
import ImageModel
import Layers
import OCI
import Registry
import RegistryStore
import SystemSupport

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from its lock: out/NAME/ (OCI layout) and out/NAME.tar (archive).",
        discussion: """
            A spec that lists platforms (linux/amd64, linux/arm64) gets one image per platform \
            and an OCI image index of them, which the tags name; each platform is built natively \
            on this machine (imagegen runs nothing from the image), and docker load takes the \
            host's platform from the archive.

            Reads only Images/NAME.lock.json (refusing a stale one), fetches the artifacts it \
            lists into a content-addressed cache (verifying every SHA-256) from a registry mirror \
            when --artifacts-from names one, else (or for what the mirror lacks) through apt and pip, \
            builds one layer per component from that component's artifacts alone, reuses every \
            layer whose inputs did not change, and writes the image atomically. Same lock, same \
            SOURCE_DATE_EPOCH: same image digest. The image's created date is the lock's \
            "resolved" date, or SOURCE_DATE_EPOCH when set; files in the layers are at \
            SOURCE_DATE_EPOCH or 0. Gzip layers carry the wheels' deflate streams \
            as they are (one inflate instead of a deflate per byte); --recompress deflates \
            everything anew (same diff_ids, other blobs).

            Examples:
              imagegen build v2.7
              imagegen build v2.7 --offline          # from the cache alone
              imagegen build v2.7 --json > report.json
              imagegen build v2.7 --recompress       # gzip layers deflated anew, as before
              imagegen build v2.15                   # an index: linux/amd64 and linux/arm64
              imagegen build v2.15 --platform linux/arm64   # that platform's image alone
              imagegen build v2.7 --artifacts-from registry.example/ml/artifacts
              docker load -i out/v2.7.tar

            The registry as the shared cache (docs/shared-cache.md): --cache-from REG/REPO takes \
            every layer whose inputs a build recorded there before (no artifact fetched, nothing \
            packed); --cache-to REG/REPO records every layer of this build there; --to \
            REG/REPO[:TAG] publishes the image straight to a registry — layers packed here are \
            uploaded, those of the cache mounted (or copied) without coming to this machine, \
            and no out/NAME is written unless --local. Also $IMAGEGEN_CACHE_FROM (comma-separated) \
            and $IMAGEGEN_CACHE_TO. The registry flags (--insecure, --ca-file, --username, \
            --retries, --jobs) serve every registry named.

              imagegen build v2.7 --cache-to reg.example/cache
              imagegen build v2.7 --cache-from reg.example/cache --to reg.example/pytorch
            """
    )

    @Argument(help: "The spec name (Images/NAME.yaml with its NAME.lock.json).")
    var name: String

    @Option(help: "The output directory.")
    var out: String = "out"

    @Flag(help: "Fetch nothing; build from the cache alone.")
    var offline = false

    @Option(name: .customLong("platform"), help: "Build only this platform of a multi-platform spec (linux/amd64, linux/arm64); repeat for several. Default: every platform the lock resolves.")
    var platforms: [String] = []

    @OptionGroup var sources: SourceOptions

    @OptionGroup var artifactsFrom: ArtifactsFromOption

    @Option(help: "The pip command to fetch with.")
    var pip: String = "python3 -m pip"

    @Option(help: "Layer compression: gzip or zstd.")
    var compression: LayerCompressionKind = .gzip

    @Option(help: "Compression threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Deflate every gzip layer anew instead of carrying the wheels' deflate streams as they are (docs/performance.md).")
    var recompress = false

    @Option(help: "The source revision for org.opencontainers.image.revision (default: $IMAGEGEN_REVISION).")
    var revision: String?

    @Flag(name: .shortAndLong, help: "Print nothing but errors: no progress, no summary.")
    var quiet = false

    @OptionGroup var progressOptions: ProgressOptions

    @Flag(name: .shortAndLong, help: "Print the build report as JSON on stdout.")
    var json = false

    @Option(name: .customLong("cache-from"), help: "A registry repository to take layers from when their inputs match, REGISTRY/REPOSITORY (repeatable; default: $IMAGEGEN_CACHE_FROM, comma-separated).")
    var cacheFrom: [String] = []

    @Option(name: .customLong("cache-to"), help: "A registry repository to record every layer of this build in, REGISTRY/REPOSITORY (default: $IMAGEGEN_CACHE_TO).")
    var cacheTo: String?

    @Option(help: "Publish the image to REGISTRY/REPOSITORY[:TAG] instead of writing out/NAME (every tag of the spec, or only TAG).")
    var to: String?

    @Flag(help: "With --to: write out/NAME and out/NAME.tar too (the cache's layers are then downloaded).")
    var local = false

    @Flag(help: "With --to: move tags that point to another image.")
    var force = false

    @Flag(inversion: .prefixedNo, help: "With --to: attach the SBOMs and provenance as referrers (default: on).")
    var attest = true

    @OptionGroup var registry: RegistryOptions

    @OptionGroup var specs: SpecOptions

    /// The registry repositories the build reads layers from, written to, and publishes to.
    struct Places {
        var cacheFrom: [ImageReference]
        var cacheTo: ImageReference?
        var to: ImageReference?

        var registries: [String] { (cacheFrom + [cacheTo, to].compactMap { $0 }).map(\.registry) }
    }

    func places() throws -> Places {
        let environment = ProcessInfo.processInfo.environment
        func repository(_ value: String, _ flag: String) throws -> ImageReference {
            do { return try StoreRepository.parse(value, option: flag) } catch { throw ValidationError("\(error)") }
        }
        let from = cacheFrom.isEmpty ? (environment["IMAGEGEN_CACHE_FROM"] ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty } : cacheFrom
        var places = Places(
            cacheFrom: try from.map { try repository($0, cacheFrom.isEmpty ? "IMAGEGEN_CACHE_FROM" : "--cache-from") },
            cacheTo: try (cacheTo ?? environment["IMAGEGEN_CACHE_TO"]).flatMap { $0.isEmpty ? nil : try repository($0, cacheTo == nil ? "IMAGEGEN_CACHE_TO" : "--cache-to") })
        if let to {
            do { places.to = try ImageReference(parsing: to) } catch { throw ValidationError("--to \(to): \(error)") }
            if places.to?.digest != nil { throw ValidationError("--to \(to): name a repository (and a tag), not a digest") }
        }
        return places
    }

    func validate() throws {
        if local && to == nil { throw ValidationError("--local writes out/NAME beside a publish; it needs --to") }
        if force && to == nil { throw ValidationError("--force moves tags of a publish; it needs --to") }
        _ = try places()
        if threads < 1 { throw ValidationError("--threads \(threads): expected 1 or more") }
        if compression == .none { throw ValidationError("--compression none: build writes gzip or zstd layers") }
        do { _ = try BuildTime.sourceDateEpoch() } catch { throw ValidationError("\(error)") }
    }

    func run() async throws {
        var options = Builder.Options(images: specs.images, catalog: try specs.loadCatalog(), cacheDirectory: sources.cacheDirectory)
        options.outputDirectory = out
        options.offline = offline
        options.platforms = platforms.isEmpty ? nil : platforms
        options.aptSources = sources.apt
        options.pipIndexURL = sources.pipIndexURL
        options.pipExtraIndexURLs = sources.extraIndexURL
        options.pipUsesHostConfiguration = !sources.noPipConfig
        options.pipCommand = pip.split(separator: " ").map(String.init)
        options.compression = try Compression(compression)
        options.threads = threads
        options.reuseDeflateStreams = !recompress
        options.sourceDateEpoch = try BuildTime.sourceDateEpoch()
        options.revision = revision ?? ProcessInfo.processInfo.environment["IMAGEGEN_REVISION"]
        let places = try places()
        options.writesImage = places.to == nil || local
        let renderer = progressOptions.renderer(quiet: quiet)
        defer { renderer.finish() }
        let progress = renderer.sink
        let started = ContinuousClock.now
        let mirrorRegistries = try artifactsFrom.reference().map { [$0.registry] } ?? []
        let (report, pushed) = try await registry.withClients(places.registries + mirrorRegistries) { clients in
            options.artifactMirror = try artifactsFrom.mirror(clients: clients, jobs: registry.jobs)
            var cache: RegistryLayerCache? = nil
            if !places.cacheFrom.isEmpty || places.cacheTo != nil {
                cache = RegistryLayerCache(
                    from: places.cacheFrom.map { .init(client: clients[$0.registry]!, repository: $0.repository) },
                    to: places.cacheTo.map { .init(client: clients[$0.registry]!, repository: $0.repository) })
            }
            options.remoteCache = cache
            let report = try await Builder(options: options, progress: progress).build(name)
            guard let destination = places.to else { return (report, nil as (ImagePusher.Report, [(Descriptor, ReferrerPusher.Report)])?) }
            defer { if !options.writesImage { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: report.layout).deletingLastPathComponent().path) } }
            var push = ImagePusher.Options(destination: destination)
            push.force = force
            push.jobs = registry.jobs
            let client = clients[destination.registry]!
            let source = try openImage(report.layout)
            let attachments = attest ? try PushCommand.attachments(beside: "\(out)/\(name)", source: source) : []
            let pushed = try await ImagePublisher(client: client, cache: cache, options: push, progress: progress).publish(report)
            var attached: [(Descriptor, ReferrerPusher.Report)] = []
            for (subject, documents) in attachments where !documents.isEmpty {
                attached.append((subject, try await ReferrerPusher(client: client, repository: destination.repository, progress: progress.notes).attach(documents, to: subject)))
            }
            return (report, (pushed, attached))
        }
        renderer.finish()
        if json {
            if let pushed {
                struct Published: Encodable { var build: Builder.Report; var push: ImagePusher.Report }
                print(try CanonicalJSON.pretty(Published(build: report, push: pushed.0)))
            } else {
                print(try CanonicalJSON.pretty(report))
            }
        }
        if !quiet {
            let several = report.platforms.count > 1
            for platform in report.platforms {
                Console.status("")
                if several { Console.status("\(platform.platform): manifest \(platform.manifest)") }
                Console.status("component  from      size        digest")
                for layer in platform.layers {
                    let size = ByteCount.text(layer.size)
                    Console.status(
                        layer.component.padding(toLength: 11, withPad: " ", startingAt: 0) + layer.source.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                            + size.padding(toLength: 12, withPad: " ", startingAt: 0) + layer.digest.description)
                }
            }
            let layers = report.platforms.flatMap(\.layers)
            let total = layers.reduce(0) { $0 + $1.size }
            let seconds = (ContinuousClock.now - started).components.seconds
            let platforms = several ? " for \(report.platforms.map(\.platform).joined(separator: ", "))" : ""
            let wrote = options.writesImage ? "; wrote \(report.layout) and \(report.archive)" : ""
            Console.status("\(layers.count) layers\(platforms), \(ByteCount.text(total)), \(seconds)s\(wrote)")
            Console.status("fetched \(report.fetched) artifact\(report.fetched == 1 ? "" : "s") (\(ByteCount.text(report.fetchedBytes)))")
            if !places.cacheFrom.isEmpty || places.cacheTo != nil {
                let fromRegistry = layers.filter { $0.source == .registry }.count
                Console.status(
                    "registry cache: \(fromRegistry) layer\(fromRegistry == 1 ? "" : "s") taken (\(ByteCount.text(report.bytesFromRegistry)) downloaded), "
                        + "\(report.cachedToRegistry) recorded (\(ByteCount.text(report.bytesToRegistry)) sent)")
            }
            if !report.supplyChain.isEmpty { Console.status("bills of materials and provenance: \(report.supplyChain.joined(separator: ", "))") }
            if let (push, attached) = pushed {
                Console.status(
                    "\(push.repository): \(push.uploaded) blob\(push.uploaded == 1 ? "" : "s") uploaded (\(ByteCount.text(push.bytesUploaded))), "
                        + "\(push.mounted) mounted, \(push.existing) already there")
                for (subject, result) in attached {
                    Console.status("attached \(result.manifests.count) document\(result.manifests.count == 1 ? "" : "s") to \(subject.digest.short)")
                }
                for tag in push.tags { Console.status("tag \(tag.tag): \(tag.action.rawValue) \(tag.digest)") }
            }
            Console.status(several ? "image index \(report.manifest)" : "image \(report.manifest)")
        }
    }
}
