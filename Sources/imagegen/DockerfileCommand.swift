import ArgumentParser
import Foundation
import ImageGen
import ImageModel
import OCI
import Registry

/// What `dockerfile` and `bake` share: the base, the template and the sources of the pip wheel
/// (the cache, an artifact mirror, pip).
struct DockerfileOptions: ParsableArguments {
    @Option(help: "The base image for FROM (default: the pinned one for the spec's release; BASE at build time overrides it).")
    var base: String?

    @Option(help: "A Mustache template to render instead of the built-in one (variables: docs/dockerfile.md).")
    var template: String?

    @Flag(help: "Fetch nothing: the lock's pip wheel must be in the cache.")
    var offline = false

    @OptionGroup var sources: SourceOptions

    @OptionGroup var artifactsFrom: ArtifactsFromOption

    @OptionGroup var registry: RegistryOptions

    @OptionGroup var specs: SpecOptions

    func generator() throws -> DockerfileGenerator {
        var options = Builder.Options(images: specs.images, catalog: try specs.loadCatalog(), cacheDirectory: sources.cacheDirectory)
        options.offline = offline
        options.aptSources = sources.apt
        options.pipIndexURL = sources.pipIndexURL
        options.pipExtraIndexURLs = sources.extraIndexURL
        options.pipUsesHostConfiguration = !sources.noPipConfig
        options.sourceDateEpoch = try BuildTime.sourceDateEpoch()
        options.revision = ProcessInfo.processInfo.environment["IMAGEGEN_REVISION"]
        return DockerfileGenerator(options: options, base: base, templatePath: template, imagegenVersion: ImageGenVersion.current)
    }

    /// Runs `body` with the generator, which fetches the pip wheel from the --artifacts-from
    /// mirror when one is named (its client open for as long as `body` runs).
    func withGenerator<T: Sendable>(_ body: (DockerfileGenerator) async throws -> T) async throws -> T {
        let registries = try artifactsFrom.reference().map { [$0.registry] } ?? []
        return try await registry.withClients(registries) { clients in
            var generator = try generator()
            generator.options.artifactMirror = try artifactsFrom.mirror(clients: clients, jobs: registry.jobs)
            return try await body(generator)
        }
    }
}

struct DockerfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dockerfile",
        abstract: "Render an image's lock as a Dockerfile and its build context: out/NAME/Dockerfile.",
        discussion: """
            The Dockerfile installs exactly what the lock pins, one RUN per component in the order \
            of imagegen's OCI layers: apt packages as NAME=VERSION, wheels from requirements files \
            with --require-hashes, with the same ENV, LABEL, WORKDIR, EXPOSE and ENTRYPOINT as \
            `imagegen build`. The context (out/NAME/imagegen/) holds the requirements, the \
            entrypoint and the lock's pip wheel; out/NAME/.dockerignore keeps the OCI layout \
            that `build` writes there out of the context. Every rendered Dockerfile is linted: \
            nothing unpinned, no `latest`, no ADD of a URL, apt lists removed.

            Examples:
              imagegen dockerfile v2.7
              docker buildx build -t pytorch:v2.7 out/v2.7
              buildah bud --build-arg APT_SOURCES="deb [trusted=yes] http://10.0.0.5/debian ./" out/v2.7
              imagegen dockerfile v2.7 --stdout | less
              imagegen dockerfile v2.7 --template my.Dockerfile.mustache --out /tmp/v2.7
            """
    )

    @Argument(help: "The spec name (Images/NAME.yaml with its NAME.lock.json).")
    var name: String

    @Option(name: .shortAndLong, help: "The context directory (default: out/NAME).")
    var out: String?

    @Flag(help: "Print only the Dockerfile on stdout; write no files.")
    var stdout = false

    @OptionGroup var options: DockerfileOptions

    func run() async throws {
        if stdout {
            let generator = try options.generator()
            print(try generator.render(try generator.model(name)), terminator: "")
            return
        }
        try await options.withGenerator { generator in
            let model = try generator.model(name)
            let directory = out ?? "out/\(name)"
            try await generator.write(model, to: directory) { Console.status($0) }
            Console.status("wrote \(directory)/Dockerfile (\(model.components.count + 1) steps) and its context \(directory)/imagegen/")
        }
    }
}

struct BakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bake",
        abstract: "Write a docker buildx bake file for image variants, with each one's Dockerfile context.",
        discussion: """
            Renders the Dockerfile context of each NAME into OUT/NAME/ and writes \
            OUT/docker-bake.hcl (or OUT/docker-bake.json with --json): one target per variant \
            with its tags, labels, platform, base and a registry cache, and the group `default` \
            that builds them all. REPOSITORY and CACHE_REPOSITORY are bake variables; set them \
            in the environment of `docker buildx bake`. docs/scaling.md shows remote builders \
            sharing the cache.

            Without names, every spec in Images/ whose Dockerfile can be rendered, and one line \
            on stderr for each spec left out and why (no lock, a stale lock, a lock without pip \
            such as cuda-smoke's); it fails only when none can be. A NAME that cannot be \
            rendered is an error, and nothing is written.

            Examples:
              imagegen bake
              REPOSITORY=ghcr.io/acme/pytorch docker buildx bake -f out/docker-bake.hcl --push
              imagegen bake v2.7 v2.7-devel --json --repository ghcr.io/acme/pytorch
            """
    )

    @Argument(help: "The spec names (default: every Images/NAME.yaml with a NAME.lock.json that can be rendered).")
    var names: [String] = []

    @Option(name: .shortAndLong, help: "Where the bake file and the contexts go.")
    var out: String = "out"

    @Flag(help: "Write docker-bake.json instead of docker-bake.hcl.")
    var json = false

    @Option(help: "The repository of the tags (the REPOSITORY variable's default).")
    var repository: String = "imagegen/pytorch"

    @Option(help: "The repository of the registry cache (default: REPOSITORY-cache).")
    var cacheRepository: String?

    @OptionGroup var options: DockerfileOptions

    func run() async throws {
        try await options.withGenerator { try await bake(with: $0) }
    }

    /// Renders and writes every model, then the bake file.
    func bake(with generator: DockerfileGenerator) async throws {
        let models: [DockerfileModel]
        if names.isEmpty {
            let every = try generator.everySpec()
            for leftOut in every.leftOut { Console.status("bake: \(leftOut)") }
            guard !every.models.isEmpty else {
                throw ImageGenError.invalidInput(
                    path: options.specs.images,
                    reason: "no spec can be rendered as a Dockerfile (\(every.leftOut.count) left out, each with its reason above); wrote nothing")
            }
            models = every.models
        } else {
            models = try names.map(generator.model)
        }
        for model in models {
            try await generator.write(model, to: "\(out)/\(model.image.spec.name)") { Console.status($0) }
        }
        let bake = BakeFile(models: models, repository: repository, cacheRepository: cacheRepository) { "./\($0.image.spec.name)" }
        let path = "\(out)/docker-bake.\(json ? "json" : "hcl")"
        try AtomicFileWriter.write(Array((json ? bake.json : bake.hcl).utf8), to: path)
        Console.status("wrote \(path): \(bake.targets.map(\.name).joined(separator: ", ")) (group default)")
    }
}
