import ArgumentParser
import Foundation
import Registry
import RegistryStore

/// `--artifacts-from REGISTRY/REPOSITORY`: a registry that `imagegen mirror` filled, asked for
/// the locked artifacts the cache lacks before apt and pip (docs/artifact-mirror.md); shared by
/// the commands that fetch locked artifacts.
struct ArtifactsFromOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A registry repository that `imagegen mirror` filled: artifacts the cache lacks come from it first, the rest from apt and pip (default: $IMAGEGEN_ARTIFACTS_FROM).",
            valueName: "registry/repository"))
    var artifactsFrom: String?

    /// The value and where it came from (`--artifacts-from` or `IMAGEGEN_ARTIFACTS_FROM`); nil
    /// when neither names a mirror.
    var given: (option: String, value: String)? {
        if let artifactsFrom { return ("--artifacts-from", artifactsFrom) }
        if let value = ProcessInfo.processInfo.environment["IMAGEGEN_ARTIFACTS_FROM"], !value.isEmpty {
            return ("IMAGEGEN_ARTIFACTS_FROM", value)
        }
        return nil
    }

    func validate() throws {
        guard let (option, value) = given else { return }
        do {
            _ = try RegistryArtifactMirror.repository(parsing: value, option: option)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The mirror's registry and repository; nil when none is named.
    func reference() throws -> ImageReference? {
        guard let (option, value) = given else { return nil }
        return try RegistryArtifactMirror.repository(parsing: value, option: option)
    }

    /// The mirror over `clients` (opened by ``RegistryOptions/withClients(_:_:)`` for
    /// `reference()`'s registry among others); nil when none is named.
    func mirror(clients: [String: RegistryClient], jobs: Int) throws -> RegistryArtifactMirror? {
        guard let reference = try reference(), let client = clients[reference.registry] else { return nil }
        return RegistryArtifactMirror(client: client, repository: reference.repository, jobs: jobs)
    }
}
