import ArgumentParser
import Foundation
import OCI
import Registry

struct TagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Point tags at an image already in a repository (pushed by digest), without the image at hand.",
        discussion: """
            Fetches the manifest named by digest (or tag) and writes it under each tag, in the \
            same repository. Tags are immutable: a tag that points to another image stops the \
            command before any tag is written, unless --force. Credentials as for push.

            Examples:
              imagegen tag ghcr.io/acme/pytorch@sha256:34150a… v2.7 2.7.0-cuda12.6-cudnn9-runtime-py3.11
              imagegen tag 127.0.0.1:5000/pytorch:candidate stable --insecure
            """
    )

    @Argument(help: "REGISTRY/REPOSITORY@DIGEST (or :TAG) of the image.")
    var source: String

    @Argument(help: "The tags to give it.")
    var tags: [String]

    @Flag(help: "Move tags that point to another image.")
    var force = false

    @OptionGroup var registry: RegistryOptions

    @Flag(name: .shortAndLong, help: "Print the result as JSON on stdout.")
    var json = false

    func parsed() throws -> ImageReference {
        let value: ImageReference
        do { value = try ImageReference(parsing: source) } catch { throw ValidationError("\(error)") }
        guard value.reference != nil else { throw ValidationError("\(source): name the image by digest (@sha256:…) or tag") }
        return value
    }

    func validate() throws {
        _ = try parsed()
        if tags.isEmpty { throw ValidationError("name at least one tag") }
        for tag in tags {
            do { try ImageReference.validateTag(tag) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        let reference = try parsed()
        let clientOptions = try registry.clientOptions(registry: reference.registry)
        let force = self.force, tags = self.tags
        let results = try await RegistryClient.withClient(registry: reference.registry, options: clientOptions) { client in
            try await ImageTagger(client: client, force: force).tag(reference, tags: tags)
        }
        if json { print(try CanonicalJSON.pretty(results)) }
        for result in results {
            switch result.action {
            case .moved: Console.status("tag \(result.tag): moved from \(result.previous?.description ?? "?") to \(result.digest)")
            case .unchanged: Console.status("tag \(result.tag): already \(result.digest)")
            case .created: Console.status("tag \(result.tag): \(result.digest)")
            }
        }
    }
}
