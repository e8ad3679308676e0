import ArgumentParser
import Foundation
import ImageGen
import OCI
import Registry
import RegistryStore

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Keep every deb and wheel an image's lock pins in a registry, so that the lock stays buildable.",
        discussion: """
            Debian's mirrors keep only the newest version of a package: a lock is reproducible \
            only while its artifacts can still be fetched. `mirror` puts every deb and wheel the \
            named locks pin (every platform of a multi-platform lock) into one registry \
            repository as blobs, each named by its SHA-256, fetching into the local cache first \
            what it lacks. One OCI artifact manifest per lock (artifactType \
            application/vnd.imagegen.artifacts.v1+json, one layer per artifact, annotated with \
            its name, version, kind and file name) keeps them from the registry's garbage \
            collector, tagged NAME-lock-HEX after the lock file's SHA-256, so that mirroring a \
            newer lock never orphans an older one's blobs. Only blobs the repository lacks are \
            sent: a second run sends nothing.

            `imagegen build --artifacts-from REGISTRY/REPOSITORY` (or IMAGEGEN_ARTIFACTS_FROM) \
            then fetches what the cache lacks from the mirror before apt and pip. See \
            docs/artifact-mirror.md.

            Credentials as for push: --username with --password-stdin; IMAGEGEN_REGISTRY_USER \
            and IMAGEGEN_REGISTRY_PASSWORD; the Docker config.

            Examples:
              imagegen mirror v2.7 --to registry.example/ml/artifacts
              imagegen mirror v2.7 v2.15 --to registry.example/ml/artifacts --json
              imagegen mirror v2.7 --to 127.0.0.1:5000/artifacts --insecure
              imagegen build v2.7 --artifacts-from registry.example/ml/artifacts
            """
    )

    @Argument(help: "The spec names (Images/NAME.yaml with its NAME.lock.json); at least one.")
    var names: [String]

    @Option(help: ArgumentHelp("The registry repository to keep the artifacts in.", valueName: "registry/repository"))
    var to: String

    @Flag(help: "Fetch nothing: mirror what the cache holds, and fail naming what it lacks.")
    var offline = false

    @OptionGroup var sources: SourceOptions

    @Option(help: "The pip command to fetch with.")
    var pip: String = "python3 -m pip"

    @OptionGroup var registry: RegistryOptions

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @OptionGroup var progressOptions: ProgressOptions

    @Flag(name: .shortAndLong, help: "Print the mirror report as JSON on stdout.")
    var json = false

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one image (Images/NAME.lock.json)") }
        _ = try destination()
    }

    func destination() throws -> ImageReference {
        do {
            return try RegistryArtifactMirror.repository(parsing: to, option: "--to")
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let destination = try destination()
        var build = Builder.Options(images: specs.images, catalog: try specs.loadCatalog(), cacheDirectory: sources.cacheDirectory)
        build.offline = offline
        build.aptSources = sources.apt
        build.pipIndexURL = sources.pipIndexURL
        build.pipExtraIndexURLs = sources.extraIndexURL
        build.pipUsesHostConfiguration = !sources.noPipConfig
        build.pipCommand = pip.split(separator: " ").map(String.init)
        var options = ArtifactMirrorPusher.Options(destination: destination, build: build)
        options.jobs = registry.jobs
        let renderer = progressOptions.renderer(quiet: quiet)
        defer { renderer.finish() }
        let started = ContinuousClock.now
        let clientOptions = try registry.clientOptions(registry: destination.registry)
        let report = try await RegistryClient.withClient(registry: destination.registry, options: clientOptions) { client in
            try await ArtifactMirrorPusher(client: client, options: options, progress: renderer.sink).push(names)
        }
        renderer.finish()
        if json { print(try CanonicalJSON.pretty(report)) }
        if !quiet {
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            Console.status(
                "\(report.repository): \(report.uploaded) blob\(report.uploaded == 1 ? "" : "s") uploaded (\(ByteCount.text(report.bytesUploaded))), "
                    + "\(report.existing) already there; \(report.fetched) fetched into the cache first; \(String(format: "%.1f", seconds))s")
            for image in report.images {
                Console.status("\(image.image): \(image.debs) debs and \(image.wheels) wheels (\(ByteCount.text(image.bytes))) kept by \(image.reference) (\(image.manifest))")
            }
        }
    }
}
