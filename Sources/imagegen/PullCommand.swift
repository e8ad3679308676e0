import ArgumentParser
import Foundation
import ImageGen
import OCI
import Registry

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Fetch an image from a registry into an OCI layout, verifying every digest.",
        discussion: """
            Fetches the manifest (or index and its manifests) and every blob, checks each \
            against its digest and size as it arrives, and moves the finished layout to --out \
            only when all of it is in place. Credentials and TLS (--ca-file) as for push.

            --with-referrers also fetches what is attached to the image: the OCI 1.1 \
            referrers (SBOMs, SLSA provenance, signatures) of each of its manifests and \
            indexes, from the registry's referrers API, or from the sha256-HEX tag where the \
            registry has none. They are listed in index.json without a tag, after the image, \
            so the image's tag still names the image.

            Examples:
              imagegen pull ghcr.io/acme/pytorch:v2.7 --out pulled/v2.7
              imagegen pull 127.0.0.1:5000/pytorch@sha256:… --out pulled/v2.7 --insecure
              imagegen pull ghcr.io/acme/pytorch:v2.7 --out pulled/v2.7 --with-referrers
              imagegen verify pulled/v2.7
            """
    )

    @Argument(help: "REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST.")
    var reference: String

    @Option(help: "The layout directory to write (replaced if it exists).")
    var out: String

    @OptionGroup var registry: RegistryOptions

    @Flag(help: "Also fetch the documents attached to the image (OCI 1.1 referrers: SBOMs, provenance).")
    var withReferrers = false

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @OptionGroup var progressOptions: ProgressOptions

    @Flag(name: .shortAndLong, help: "Print the pull report as JSON on stdout.")
    var json = false

    func parsed() throws -> ImageReference {
        let value: ImageReference
        do { value = try ImageReference(parsing: reference) } catch { throw ValidationError("\(error)") }
        guard value.reference != nil else { throw ValidationError("\(reference): name a tag (:TAG) or a digest (@sha256:…)") }
        return value
    }

    func validate() throws { _ = try parsed() }

    func run() async throws {
        let reference = try parsed()
        let renderer = progressOptions.renderer(quiet: quiet)
        defer { renderer.finish() }
        let staging = try OutputDirectory.makeStaging(for: out)
        do {
            let clientOptions = try registry.clientOptions(registry: reference.registry)
            let jobs = registry.jobs, withReferrers = self.withReferrers
            let report = try await RegistryClient.withClient(registry: reference.registry, options: clientOptions) { client in
                try await ImagePuller(client: client, jobs: jobs, withReferrers: withReferrers, progress: renderer.sink)
                    .pull(reference, into: staging)
            }
            renderer.finish()
            try OutputDirectory.replace(out, with: staging)
            if json { print(try CanonicalJSON.pretty(report)) }
            if !quiet {
                let attached = withReferrers ? ", \(report.referrers) referrer\(report.referrers == 1 ? "" : "s")" : ""
                Console.status(
                    "\(out): \(report.reference) \(report.digest), \(report.blobs) blobs, \(ByteCount.text(report.bytes))\(attached), every digest verified")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
