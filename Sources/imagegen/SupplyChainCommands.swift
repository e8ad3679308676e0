import ArgumentParser
import Foundation
import ImageGen
import OCI
import Registry
import SupplyChain

/// What `sbom` and `provenance` share: the image to describe and where to write.
struct SupplyChainOptions: ParsableArguments {
    @Argument(help: "The image's name (its spec Images/NAME.yaml and lock; the built image out/NAME).")
    var name: String?

    @Option(help: "Where built images live.")
    var outDirectory: String = "out"

    @Option(help: "The platform to describe, for a multi-platform image (default: its first).")
    var platform: String?

    @Option(name: .customLong("output"), help: "Write the document to this file (default: standard output).")
    var output: String?

    @Option(help: "Read the document attached to a pushed image instead: REGISTRY/REPOSITORY@DIGEST or :TAG.")
    var from: String?

    @OptionGroup var specs: SpecOptions
    @OptionGroup var cache: CacheOption
    @OptionGroup var registry: RegistryOptions

    /// Exactly one of NAME and --from.
    func validateSource(command: String) throws {
        if from != nil, let name { throw ValidationError("name an image (\(name)) or --from a registry, not both") }
        if from == nil, name == nil { throw ValidationError("name an image (imagegen \(command) NAME) or a pushed one (--from REGISTRY/REPOSITORY@DIGEST)") }
    }

    /// The document of `kind`: the built image's, or with --from the one attached to a pushed image.
    func run(_ kind: SupplyChainFiles.Kind) async throws {
        guard let from else { return try emit(try document(kind)) }
        try emit(try await attached(kind, from: from))
    }

    /// The document of `kind` for the chosen platform.
    func document(_ kind: SupplyChainFiles.Kind) throws -> [UInt8] {
        guard let name else { throw ValidationError("name an image: imagegen \(kind == .provenance ? "provenance" : "sbom") NAME") }  // validate() makes sure
        let image = try PushCommand.locate(name, out: outDirectory)
        let options = SupplyChainFiles.Options(images: specs.images, cacheDirectory: cache.cacheDirectory)
        let inventories = try SupplyChainFiles.inventories(name: name, image: image, options: options)
        let chosen: Inventory
        if let platform {
            guard let match = inventories.first(where: { $0.platform == platform }) else {
                throw ImageGenError.invalidOption(name: "--platform", value: platform, expected: "a platform \(image) holds: \(inventories.map(\.platform).joined(separator: ", "))")
            }
            chosen = match
        } else {
            guard let first = inventories.first else { throw ImageGenError.invalidInput(path: image, reason: "it holds no image manifest") }
            chosen = first
        }
        return try SupplyChainFiles.document(kind, of: chosen, name: name, options: options)
    }

    /// The document of `kind` that `push` attached to the image at `from`
    /// (`REGISTRY/REPOSITORY@DIGEST` or `:TAG`; for an index, the --platform manifest's).
    func attached(_ kind: SupplyChainFiles.Kind, from: String) async throws -> [UInt8] {
        let reference: ImageReference
        do { reference = try ImageReference(parsing: from) } catch { throw ValidationError("--from: \(error)") }
        guard let name = reference.reference else { throw ValidationError("--from \(from): name a digest (@sha256:…) or a tag (:TAG)") }
        let platform = self.platform
        return try await RegistryClient.withClient(registry: reference.registry, options: try registry.clientOptions(registry: reference.registry)) { client in
            let repository = reference.repository
            var subject = try await client.manifest(repository, reference: name)
            if subject.mediaType.isIndex {
                let index = try CanonicalJSON.decode(Index.self, from: subject.bytes, name: "\(from) index")
                let manifests = index.manifests.filter(\.mediaType.isManifest)
                let held = manifests.compactMap(\.platform).map(\.description).joined(separator: ", ")
                guard let chosen = platform.map({ wanted in manifests.first { $0.platform?.description == wanted } }) ?? manifests.first else {
                    throw platform.map { ImageGenError.invalidOption(name: "--platform", value: $0, expected: "a platform \(from) holds: \(held)") }
                        ?? ImageGenError.invalidInput(path: from, reason: "its image index lists no image manifest")
                }
                subject = try await client.manifest(repository, reference: chosen.digest.description)
            }
            // Among several of the type (another tool's, an older push), the one push titled NAME.SUFFIX.
            let found = try await ReferrerReader(client: client).attachedDocument(
                repository, of: subject.digest, artifactType: kind.mediaType, titleSuffix: kind.suffix)
            guard let found else {
                throw ImageGenError.invalidInput(
                    path: from, reason: "no \(kind.mediaType) document is attached to \(subject.digest) (push it with `imagegen push` from a build's output)")
            }
            return found.bytes
        }
    }

    /// Writes `bytes` to --output (a temporary name, then renamed) or standard output.
    func emit(_ bytes: [UInt8]) throws {
        guard let output else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        let writer = try AtomicFileWriter(path: output)
        try writer.write(bytes)
        try writer.commit()
    }
}

struct SBOMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom",
        abstract: "Print the bill of materials of a built image: SPDX 2.3 or CycloneDX 1.6 JSON.",
        discussion: """
            Exact by construction: every deb and wheel of the lock with its SHA-256 and package \
            URL (debs as pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12, wheels as \
            pkg:pypi/NAME@VERSION), the layer that carries it, its source package and the \
            license it declares (a Debian machine-readable copyright file, a wheel's \
            License-Expression or License); the operating system; the image and each layer by \
            digest. Read from the lock, the built image and the cached artifacts; nothing is \
            downloaded. The same image always gives the same bytes. `imagegen build` writes \
            both formats beside the image (out/NAME.spdx.json, out/NAME.cdx.json) and `push` \
            attaches them to the pushed image.

            Examples:
              imagegen sbom v2.7 > v2.7.spdx.json
              imagegen sbom v2.7 --format cyclonedx --output v2.7.cdx.json
              imagegen sbom v2.15 --platform linux/arm64
              imagegen sbom --from ghcr.io/acme/pytorch@sha256:… --format cyclonedx

            --from REGISTRY/REPOSITORY@DIGEST (or :TAG) reads the document `push` attached to \
            that image instead: the referrer of the format's media type that push titled \
            NAME.spdx.json or NAME.cdx.json (among several, the newest), through the \
            registry's referrers API or the sha256-HEX tag, checked against its digest and \
            subject; the bytes are the file build wrote. For a multi-platform image, --platform picks the \
            manifest (default: the index's first).
            """
    )

    @OptionGroup var options: SupplyChainOptions

    @Option(help: "spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON).")
    var format: String = "spdx"

    func validate() throws {
        guard ["spdx", "cyclonedx"].contains(format) else { throw ValidationError("--format \(format): expected spdx or cyclonedx") }
        try options.validateSource(command: "sbom")
    }

    func run() async throws { try await options.run(format == "spdx" ? .spdx : .cyclonedx) }
}

struct ProvenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "Print the SLSA provenance v1 (an in-toto Statement) of a built image.",
        discussion: """
            The subject is the image manifest; the build definition names the spec and its \
            digest, the lock's SHA-256, the platform, and every artifact the build read by \
            SHA-256 (and the git revision of the checkout holding the specs). `imagegen build` \
            writes it beside the image (out/NAME.provenance.json) with the build's start and \
            finish times; made afterwards, as here, it has no run times. The builder id is \
            $IMAGEGEN_BUILDER_ID (CI: the workflow's URL) or a local builder.

            --from REGISTRY/REPOSITORY@DIGEST (or :TAG) reads the provenance `push` attached to \
            that image instead, checked by digest and subject.

            Examples:
              imagegen provenance v2.7 --output v2.7.provenance.json
              imagegen provenance --from ghcr.io/acme/pytorch@sha256:…
            """
    )

    @OptionGroup var options: SupplyChainOptions

    func validate() throws { try options.validateSource(command: "provenance") }

    func run() async throws { try await options.run(.provenance) }
}
