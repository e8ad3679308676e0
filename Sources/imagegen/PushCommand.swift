import ArgumentParser
import Foundation
import ImageGen
import OCI
import Registry
import SystemSupport

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image (out/NAME, a layout or an archive) to a registry, with all its tags.",
        discussion: """
            Sends only the blobs the repository lacks (a second push of an unchanged image sends \
            none), several at once, large ones in chunks that resume after an interruption; then \
            the manifests by digest; then the tags. Tags are immutable: a tag that points to \
            another image stops the push before anything is sent, unless --force, which says \
            from what to what it moved.

            --to REGISTRY/REPOSITORY pushes every tag of the image; REGISTRY/REPOSITORY:TAG only \
            that tag; --digest-only no tag (print REGISTRY/REPOSITORY@DIGEST, tag later).

            The bills of materials and the provenance `imagegen build` wrote beside the image \
            (out/NAME.spdx.json, out/NAME.cdx.json, out/NAME.provenance.json; per platform for \
            a multi-platform image) are attached to each platform's manifest as OCI referrers \
            (an artifact manifest whose subject is the image manifest), found through the \
            registry's referrers API or, where it has none, the sha256-HEX tag of the referrers \
            tag schema (docs/supply-chain.md). --no-attest leaves them out; --attest insists. \
            A document that does not name the image's manifest (a stale one) stops the push \
            before anything is sent.

            Credentials, first found wins: --username with --password-stdin; \
            IMAGEGEN_REGISTRY_USER and IMAGEGEN_REGISTRY_PASSWORD; the Docker config \
            ($DOCKER_CONFIG/config.json or ~/.docker/config.json: credHelpers, auths, \
            credsStore). Secrets are never printed.

            TLS is verified against the system's CAs plus --ca-file (or \
            IMAGEGEN_REGISTRY_CA_FILE); a certificate it refuses stops the push at once, before \
            any request is sent to that server.

            Examples:
              imagegen push v2.7 --to ghcr.io/acme/pytorch
              imagegen push out/v2.7.tar --to ghcr.io/acme/pytorch --digest-only
              echo "$TOKEN" | imagegen push v2.7 --to ghcr.io/acme/pytorch --username acme --password-stdin
              imagegen push v2.7 --to 127.0.0.1:5000/pytorch --insecure
              imagegen push v2.7 --to registry.internal:5443/pytorch --ca-file /etc/pki/internal-ca.pem
            """
    )

    @Argument(help: "An image name (OUT/NAME or OUT/NAME.tar), an OCI layout directory or an image archive.")
    var image: String

    @Option(help: "REGISTRY/REPOSITORY[:TAG].")
    var to: String

    @Option(help: "Where built images live, for a NAME.")
    var out: String = "out"

    @Flag(help: "Move tags that point to another image.")
    var force = false

    @Flag(help: "Push the manifest by digest only, no tag; print REGISTRY/REPOSITORY@DIGEST on stdout.")
    var digestOnly = false

    @Option(help: "A repository of the same registry to mount existing blobs from instead of uploading them (repeatable).")
    var mountFrom: [String] = []

    @Flag(inversion: .prefixedNo, help: "Attach the SBOMs and provenance found beside the image (default: when there are any).")
    var attest: Bool?

    @OptionGroup var registry: RegistryOptions

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @OptionGroup var progressOptions: ProgressOptions

    @Flag(name: .shortAndLong, help: "Print the push report as JSON on stdout.")
    var json = false

    func validate() throws {
        let reference = try parseDestination()
        if reference.digest != nil { throw ValidationError("--to \(to): name a repository (and a tag), not a digest") }
        if digestOnly && reference.tag != nil { throw ValidationError("--digest-only pushes no tag; drop ':\(reference.tag!)' from --to") }
    }

    func parseDestination() throws -> ImageReference {
        do { return try ImageReference(parsing: to) } catch { throw ValidationError("--to: \(error)") }
    }

    /// A path, or NAME under --out (layout first, then archive).
    static func locate(_ image: String, out: String) throws -> String {
        let fm = FileManager.default
        for candidate in [image, "\(out)/\(image)", "\(out)/\(image).tar"] where fm.fileExists(atPath: candidate) { return candidate }
        throw ValidationError("\(image): no such image; expected a layout directory, an archive, or NAME with \(out)/NAME or \(out)/NAME.tar (run `imagegen build NAME` first)")
    }

    func run() async throws {
        let destination = try parseDestination()
        let located = try Self.locate(image, out: out)
        let source = try openImage(located)
        let attachments = attest == false ? [] : try Self.attachments(beside: located, source: source)
        if attest == true && attachments.allSatisfy({ $0.1.isEmpty }) {
            throw ImageGenError.invalidInput(
                path: located, reason: "no SBOM or provenance beside it (\(SupplyChainFiles.Kind.allCases.map { "NAME.\($0.suffix)" }.joined(separator: ", ")), per platform for an index); `imagegen build` writes them, or leave out --attest")
        }
        var options = ImagePusher.Options(destination: destination)
        options.force = force
        options.digestOnly = digestOnly
        options.mountFrom = mountFrom
        options.jobs = registry.jobs
        let renderer = progressOptions.renderer(quiet: quiet)
        defer { renderer.finish() }
        let started = ContinuousClock.now
        let clientOptions = try registry.clientOptions(registry: destination.registry)
        let (report, attached) = try await RegistryClient.withClient(registry: destination.registry, options: clientOptions) { client in
            let report = try await ImagePusher(client: client, options: options, progress: renderer.sink).push(source)
            var attached: [(Descriptor, ReferrerPusher.Report)] = []
            for (subject, documents) in attachments where !documents.isEmpty {
                let pusher = ReferrerPusher(client: client, repository: destination.repository, progress: renderer.sink.notes)
                attached.append((subject, try await pusher.attach(documents, to: subject)))
            }
            return (report, attached)
        }
        renderer.finish()
        if json {
            print(try CanonicalJSON.pretty(report))
        } else if digestOnly {
            for reference in report.references { print(reference) }
        }
        if !quiet {
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            Console.status(
                "\(report.repository): \(report.uploaded) blob\(report.uploaded == 1 ? "" : "s") uploaded (\(ByteCount.text(report.bytesUploaded))), "
                    + "\(report.mounted) mounted, \(report.existing) already there; \(String(format: "%.1f", seconds))s")
            for reference in report.references { Console.status("pushed \(reference)") }
            for (subject, result) in attached {
                let way = result.tagSchema ? "through the referrers tag sha256-\(subject.digest.encoded.prefix(12))…" : "through the referrers API"
                Console.status(
                    "attached \(result.manifests.count) document\(result.manifests.count == 1 ? "" : "s") to \(subject.digest) \(way) "
                        + "(\(result.uploaded) blob\(result.uploaded == 1 ? "" : "s") uploaded, \(result.existing) already there)")
            }
            for tag in report.tags {
                switch tag.action {
                case .moved: Console.status("tag \(tag.tag): moved from \(tag.previous?.description ?? "?") to \(tag.digest)")
                case .unchanged: Console.status("tag \(tag.tag): already \(tag.digest)")
                case .created: Console.status("tag \(tag.tag): \(tag.digest)")
                }
            }
        }
    }

    /// The documents beside the image at `path`, per platform manifest, each checked to name
    /// that manifest's digest (a stale file from another build is refused, not attached).
    static func attachments(beside path: String, source: any ImageSource) throws -> [(Descriptor, [Attachment])] {
        let manifests = try PlatformManifest.all(in: source)
        return try manifests.map { image in
            var documents: [Attachment] = []
            for kind in SupplyChainFiles.Kind.allCases {
                let file = SupplyChainFiles.path(image: path, platform: image.platform, platformCount: manifests.count, kind: kind)
                guard FileManager.default.fileExists(atPath: file) else { continue }
                let bytes = try FileReader.readAll(path: file, limit: 256 << 20)
                guard String(decoding: bytes, as: UTF8.self).contains(image.descriptor.digest.encoded) else {
                    throw ImageGenError.invalidInput(
                        path: file, reason: "does not describe \(image.platform)'s manifest \(image.descriptor.digest) of \(path) (left from another build?); rebuild, or push with --no-attest")
                }
                documents.append(Attachment(
                    artifactType: kind.mediaType, bytes: bytes,
                    annotations: [AnnotationKey.title: URL(fileURLWithPath: file).lastPathComponent]))
            }
            return (image.descriptor, documents)
        }
    }
}
