#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Artifacts
import Foundation
import ImageGen
import ImageModel
import Layers
import OCI

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

    @OptionGroup var registry: RegistryOptions

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

    @Flag(name: .shortAndLong, help: "Print nothing but errors (no progress; progress bars are drawn only on a terminal).")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Print the build report as JSON on stdout.")
    var json = false

    @OptionGroup var specs: SpecOptions

    func validate() throws {
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
        options.artifactMirror = try artifactsFrom.mirror(registry: registry)
        options.compression = try Compression(compression)
        options.threads = threads
        options.reuseDeflateStreams = !recompress
        options.sourceDateEpoch = try BuildTime.sourceDateEpoch()
        options.revision = revision ?? ProcessInfo.processInfo.environment["IMAGEGEN_REVISION"]
        options.progressBars = !quiet && isatty(2) == 1
        let quiet = self.quiet
        let started = ContinuousClock.now
        let report = try await Builder(options: options, progress: { if !quiet { Console.status($0) } }).build(name)
        if json {
            print(try CanonicalJSON.pretty(report))
        }
        if !quiet {
            let several = report.platforms.count > 1
            for platform in report.platforms {
                Console.status("")
                if several { Console.status("\(platform.platform): manifest \(platform.manifest)") }
                Console.status("component  reused  size        digest")
                for layer in platform.layers {
                    let size = ByteCount.text(layer.size)
                    Console.status(
                        layer.component.padding(toLength: 11, withPad: " ", startingAt: 0) + (layer.reused ? "yes     " : "no      ")
                            + size.padding(toLength: 12, withPad: " ", startingAt: 0) + layer.digest.description)
                }
            }
            let layers = report.platforms.flatMap(\.layers)
            let total = layers.reduce(0) { $0 + $1.size }
            let seconds = (ContinuousClock.now - started).components.seconds
            let platforms = several ? " for \(report.platforms.map(\.platform).joined(separator: ", "))" : ""
            Console.status("\(layers.count) layers\(platforms), \(ByteCount.text(total)), \(seconds)s; wrote \(report.layout) and \(report.archive)")
            if !report.supplyChain.isEmpty { Console.status("bills of materials and provenance: \(report.supplyChain.joined(separator: ", "))") }
            Console.status(several ? "image index \(report.manifest)" : "image \(report.manifest)")
        }
    }
}
