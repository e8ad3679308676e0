import Artifacts
import Foundation
import OCI
import Registry
import Synchronization
import SystemSupport

/// An OCI registry repository as an ``ArtifactMirror``: each locked artifact is the blob whose
/// digest is its SHA-256 (`imagegen mirror` put it there), fetched with
/// `GET /v2/REPOSITORY/blobs/sha256:HEX` (`imagegen build --artifacts-from REGISTRY/REPOSITORY`).
///
/// Each blob is streamed to a temporary file and checked against the lock's digest and size
/// while it arrives (``RegistryClient/pullBlob(_:descriptor:to:)``); the artifact cache then
/// hashes it again before it gets an entry's name. A blob the repository lacks (404) is left to
/// apt and pip; anything else that goes wrong stops the fetch with the mirror named.
public struct RegistryArtifactMirror: ArtifactMirror {
    /// A client of the mirror's registry (it must outlive the fetches).
    public let client: RegistryClient
    /// The repository.
    public let repository: String
    /// Blobs fetched at once.
    public var jobs: Int

    /// `REGISTRY/REPOSITORY`.
    public var location: String { "\(client.registry)/\(repository)" }

    /// A mirror in `repository` of `client`'s registry.
    public init(client: RegistryClient, repository: String, jobs: Int = 4) {
        self.client = client
        self.repository = repository
        self.jobs = jobs
    }

    /// Parses `REGISTRY/REPOSITORY` as given to `option` (`--to`, `--artifacts-from`): a store
    /// repository (``StoreRepository``) whose registry is named (a host with a `.` or a port, or
    /// `localhost`): a mirror is the team's own registry, never Docker Hub by default.
    /// - Throws: ``RegistryStoreError/invalidRepository(option:value:reason:)``.
    public static func repository(parsing value: String, option: String) throws -> ImageReference {
        let reference = try StoreRepository.parse(value, option: option)
        guard value.hasPrefix(reference.registry + "/") else {
            throw RegistryStoreError.invalidRepository(
                option: option, value: value, reason: "it names no registry (a host with a '.' or a port, or localhost, before the first '/')")
        }
        return reference
    }

    public func fetch(_ artifacts: [MirroredArtifact], into directory: String) async throws -> [Digest: String] {
        guard !artifacts.isEmpty else { return [:] }
        let client = client, repository = repository, location = location
        do {
            // One clear answer for an address that is not a registry, before any blob.
            try await client.probe()
            let found = Mutex<[Digest: String]>([:])
            try await Parallel.asyncForEach(artifacts, width: jobs) { artifact in
                let path = try Self.destination(for: artifact, in: directory)
                let descriptor = Descriptor(mediaType: artifact.mediaType, digest: artifact.sha256, size: artifact.size)
                do {
                    try await client.pullBlob(repository, descriptor: descriptor, to: path)
                } catch RegistryError.notFound {
                    return
                } catch RegistryError.digestMismatch(_, let expected, let actual) {
                    throw RegistryStoreError.corruptMirrorBlob(
                        location: location, fileName: artifact.fileName, digest: artifact.sha256, detail: "expected \(expected), received \(actual)")
                }
                found.withLock { $0[artifact.sha256] = path }
            }
            return found.withLock { $0 }
        } catch let error as RegistryError {
            throw RegistryStoreError.mirrorUnreachable(location: location, reason: error.description)
        }
    }

    /// `DIRECTORY/HEX/FILE`: the lock's file name (so that an error names it), in a directory
    /// of its own (two artifacts may share a name). A name that could leave the directory is
    /// replaced.
    static func destination(for artifact: MirroredArtifact, in directory: String) throws -> String {
        let folder = "\(directory)/\(artifact.sha256.encoded)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw OCIError.io(path: folder, reason: error.localizedDescription)
        }
        let name = artifact.fileName
        let safe = !name.isEmpty && name != "." && name != ".." && !name.contains("/") ? name : "artifact"
        return "\(folder)/\(safe)"
    }
}

extension MirroredArtifact {
    /// The media type of its blob: `application/vnd.debian.binary-package` or imagegen's wheel type.
    var mediaType: MediaType {
        switch kind {
        case .deb: .debianPackage
        case .wheel: .pythonWheel
        }
    }
}
