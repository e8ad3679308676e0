import ArgumentParser
import Foundation
import ImageGen
import OCI
import SupplyChain

/// What `sbom` and `provenance` share: the image to describe and where to write.
struct SupplyChainOptions: ParsableArguments {
    @Argument(help: "The image's name (its spec Images/NAME.yaml and lock; the built image out/NAME).")
    var name: String

    @Option(help: "Where built images live.")
    var outDirectory: String = "out"

    @Option(help: "The platform to describe, for a multi-platform image (default: its first).")
    var platform: String?

    @Option(name: .customLong("output"), help: "Write the document to this file (default: standard output).")
    var output: String?

    @OptionGroup var specs: SpecOptions
    @OptionGroup var cache: CacheOption

    /// The document of `kind` for the chosen platform.
    func document(_ kind: SupplyChainFiles.Kind) throws -> [UInt8] {
        let image = try PushCommand.locate(name, out: outDirectory)
        var options = SupplyChainFiles.Options(images: specs.images, cacheDirectory: cache.cacheDirectory, toolVersion: ImageGenVersion.current)
        options.builderID = ProcessInfo.processInfo.environment["IMAGEGEN_BUILDER_ID"]
        let inventories = try SupplyChainFiles.inventories(name: name, image: image, options: options)
        let chosen: Inventory
        if let platform {
            guard let match = inventories.first(where: { $0.platform == platform }) else {
                throw ValidationError("--platform \(platform): \(image) holds \(inventories.map(\.platform).joined(separator: ", "))")
            }
            chosen = match
        } else {
            chosen = inventories[0]  // PlatformManifest.all refuses an image without a manifest
        }
        return try SupplyChainFiles.document(kind, of: chosen, name: name, options: options)
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

struct SBOMCommand: ParsableCommand {
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
            """
    )

    @OptionGroup var options: SupplyChainOptions

    @Option(help: "spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON).")
    var format: String = "spdx"

    func validate() throws {
        guard ["spdx", "cyclonedx"].contains(format) else { throw ValidationError("--format \(format): expected spdx or cyclonedx") }
    }

    func run() throws {
        try options.emit(try options.document(format == "spdx" ? .spdx : .cyclonedx))
    }
}

struct ProvenanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "Print the SLSA provenance v1 (an in-toto Statement) of a built image.",
        discussion: """
            The subject is the image manifest; the build definition names the spec and its \
            digest, the lock's SHA-256, the platform, and every artifact the build read by \
            SHA-256 (and the git revision of the checkout holding the specs). `imagegen build` \
            writes it beside the image (out/NAME.provenance.json) with the build's start and \
            finish times; made afterwards, as here, it has no run times. The builder id is \
            $IMAGEGEN_BUILDER_ID (CI: the workflow run's URL) or a local builder.

            Example:
              imagegen provenance v2.7 --output v2.7.provenance.json
            """
    )

    @OptionGroup var options: SupplyChainOptions

    func run() throws {
        try options.emit(try options.document(.provenance))
    }
}
