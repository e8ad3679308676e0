import ArgumentParser
import Foundation
import ImageGen
import ImageModel
import OCI
import Registry
import RegistryStore

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Which images and layers change between two revisions of Images/, and the bytes to build and push.",
        discussion: """
            Compares the specs and locks of the images directory at a git revision (--base, \
            default HEAD) with the working tree (or --head REV), or two lock files given as \
            arguments. For each image: added, changed, unchanged or removed; for each changed \
            layer, why (a package's version, a new hash, the Python version, the accounts). \
            Bytes are the locked artifacts' sizes: "build" is what a fresh runner fetches and \
            packs (every layer of a changed image), "push" what a push sends (changed layers \
            only: unchanged layers keep their digests).

            --json prints a GitHub Actions matrix of the images to build: \
            {"include":[{"image":"v2.7","status":"changed","layers":["packages"],...}]}.

            --cache-from REGISTRY/REPOSITORY (or $IMAGEGEN_CACHE_FROM) asks the registry \
            cache, for each image to build in the working tree, which layers it holds (by the key \
            of their inputs, as `build --cache-from` would; keys depend on SOURCE_DATE_EPOCH, so \
            set it as the build will) and prints what a fresh runner fetches, packs and pushes: \
            nothing for a cached layer, which is mounted.

            Examples:
              imagegen plan --base origin/main
              imagegen plan --base origin/main --cache-from ghcr.io/acme/imagegen-cache
              imagegen plan --base v1.0 --head HEAD --json
              imagegen plan old/v2.7.lock.json Images/v2.7.lock.json
            """
    )

    @Argument(help: "Two lock files to compare instead (OLD NEW).")
    var locks: [String] = []

    @Option(help: "The git revision to compare from.")
    var base: String = "HEAD"

    @Option(help: "The git revision to compare to (default: the working tree).")
    var head: String?

    @Option(name: .long, help: "The directory holding the specs (NAME.yaml, NAME.lock.json).")
    var images: String = "Images"

    @Option(name: .customLong("cache-from"), help: "A registry cache to check the layers of each image to build against, REGISTRY/REPOSITORY (default: $IMAGEGEN_CACHE_FROM).")
    var cacheFrom: String?

    @OptionGroup var registry: RegistryOptions

    @Flag(help: "List unchanged images too.")
    var all = false

    @Flag(name: .shortAndLong, help: "Print a CI matrix of the images to build as JSON on stdout.")
    var json = false

    func validate() throws {
        if !locks.isEmpty && locks.count != 2 { throw ValidationError("give two lock files (OLD NEW), or none to compare git revisions") }
        if cache != nil && (!locks.isEmpty || head != nil) {
            throw ValidationError("--cache-from checks the images of the working tree's \(images)/; it does not go with lock files or --head")
        }
        _ = try cacheReference()
    }

    /// The registry cache to ask, from the flag or the environment.
    var cache: String? {
        cacheFrom ?? ProcessInfo.processInfo.environment["IMAGEGEN_CACHE_FROM"].flatMap { $0.split(separator: ",").first.map(String.init) }
    }

    func cacheReference() throws -> ImageReference? {
        guard let cache else { return nil }
        do { return try StoreRepository.parse(cache, option: cacheFrom == nil ? "IMAGEGEN_CACHE_FROM" : "--cache-from") } catch { throw ValidationError("\(error)") }
    }

    /// Per image to build: its layers as a fresh runner with the registry cache sees them.
    func cachePlans(_ names: [String]) async throws -> [String: [Builder.CachedLayerPlan]] {
        guard let reference = try cacheReference(), !names.isEmpty else { return [:] }
        return try await registry.withClients([reference.registry]) { clients in
            var options = Builder.Options(images: images, catalog: try Catalog.builtin(), cacheDirectory: NSTemporaryDirectory())
            options.sourceDateEpoch = try BuildTime.sourceDateEpoch()
            options.remoteCache = RegistryLayerCache(from: [.init(client: clients[reference.registry]!, repository: reference.repository)], to: nil)
            var plans: [String: [Builder.CachedLayerPlan]] = [:]
            for name in names { plans[name] = try await Builder(options: options).cachePlan(name) }
            return plans
        }
    }

    func run() async throws {
        let changes: [ImagePlanner.ImageChange]
        if locks.count == 2 {
            let old = try Lockfile.load(path: locks[0]), new = try Lockfile.load(path: locks[1])
            changes = ImagePlanner.plan(
                base: [new.image: .init(spec: nil, lock: old)], head: [new.image: .init(spec: nil, lock: new)])
        } else {
            let before = try ImagePlanner.side(revision: base, directory: images)
            let after = try head.map { try ImagePlanner.side(revision: $0, directory: images) } ?? ImagePlanner.side(directory: images)
            changes = ImagePlanner.plan(base: before, head: after)
        }
        let toBuild = changes.filter(\.status.needsBuild)
        let cached = try await cachePlans(toBuild.map(\.image))
        if json {
            struct Cache: Encodable {
                var cachedLayers: [String]
                var fetchBytes: Int64
                var packBytes: Int64
                var pushBytes: Int64
            }
            struct Entry: Encodable {
                var image: String
                var status: ImagePlanner.Status
                var layers: [String]
                var buildBytes: Int64
                var pushBytes: Int64
                var tags: [String]
                var cache: Cache?
            }
            struct Matrix: Encodable { var include: [Entry] }
            let matrix = Matrix(include: toBuild.map { change in
                let cache = cached[change.image].map { layers in
                    Cache(
                        cachedLayers: layers.filter(\.cached).map { Self.layerName($0, in: layers) }, fetchBytes: layers.reduce(0) { $0 + $1.fetchBytes },
                        packBytes: layers.reduce(0) { $0 + $1.packBytes }, pushBytes: layers.reduce(0) { $0 + $1.packBytes })
                }
                return Entry(
                    image: change.image, status: change.status, layers: change.changedLayers, buildBytes: change.buildBytes, pushBytes: change.pushBytes,
                    tags: change.tags, cache: cache)
            })
            print(String(decoding: try CanonicalJSON.encode(matrix), as: UTF8.self))
        }
        Console.status("image        status     build       push        layers that change")
        for change in changes where all || change.status != .unchanged {
            let layers = change.status == .removed ? "" : change.changedLayers.joined(separator: ", ")
            Console.status(
                change.image.padding(toLength: 13, withPad: " ", startingAt: 0) + change.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + ByteCount.text(change.buildBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                    + ByteCount.text(change.pushBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                    + (layers.isEmpty ? (change.status == .changed ? "(image config only)" : "") : layers))
            for layer in change.layers where layer.changed && change.status == .changed {
                for reason in layer.reasons.prefix(8) { Console.status("    \(layer.name): \(reason)") }
                if layer.reasons.count > 8 { Console.status("    \(layer.name): … and \(layer.reasons.count - 8) more") }
            }
            for reason in change.reasons where change.status == .changed { Console.status("    image: \(reason)") }
        }
        let build = toBuild.reduce(0) { $0 + $1.buildBytes }, push = toBuild.reduce(0) { $0 + $1.pushBytes }
        Console.status("\(toBuild.count) of \(changes.count) image\(changes.count == 1 ? "" : "s") to build: \(ByteCount.text(build)) to build, \(ByteCount.text(push)) to push")
        for change in toBuild {
            guard let layers = cached[change.image] else { continue }
            Console.status("")
            Console.status("\(change.image) on a fresh runner with the cache \(cache ?? ""):")
            Console.status("  layer              cache  fetch       pack+push")
            for layer in layers {
                Console.status(
                    "  " + Self.layerName(layer, in: layers).padding(toLength: 19, withPad: " ", startingAt: 0) + (layer.cached ? "hit    " : "miss   ")
                        + ByteCount.text(layer.fetchBytes).padding(toLength: 12, withPad: " ", startingAt: 0) + ByteCount.text(layer.packBytes))
            }
            let hits = layers.filter(\.cached).count
            Console.status(
                "  \(hits) of \(layers.count) layers cached: \(ByteCount.text(layers.reduce(0) { $0 + $1.fetchBytes })) to fetch, "
                    + "\(ByteCount.text(layers.reduce(0) { $0 + $1.packBytes })) to pack and push")
        }
    }

    /// `torch`, or `linux/arm64 torch` when the image has several platforms.
    static func layerName(_ layer: Builder.CachedLayerPlan, in layers: [Builder.CachedLayerPlan]) -> String {
        Set(layers.map(\.platform)).count > 1 ? "\(layer.platform) \(layer.component)" : layer.component
    }
}
