import OCI

/// Errors of the artifact mirror: pushing a lock's artifacts to a registry (`imagegen mirror`)
/// and fetching them back (`--artifacts-from`).
public enum ArtifactMirrorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `--to` or `--artifacts-from` (or `IMAGEGEN_ARTIFACTS_FROM`) does not name a repository.
    case invalidRepository(option: String, value: String, reason: String)
    /// The mirror could not be reached, or refused the request.
    case unreachable(location: String, reason: String)
    /// The mirror's blob for an artifact holds other bytes than the lock names.
    case corruptBlob(location: String, fileName: String, digest: Digest, detail: String)
    /// The mirror's tag for a lock would not be a valid tag (the image name has characters a tag cannot hold).
    case invalidTag(image: String, tag: String)
    /// A lock names an artifact that is neither in the cache nor fetched (an internal inconsistency).
    case artifactMissing(image: String, fileName: String)

    public var description: String {
        switch self {
        case .invalidRepository(let option, let value, let reason):
            return "\(option) '\(value)': \(reason); expected REGISTRY/REPOSITORY, e.g. registry.example:5000/team/artifacts"
        case .unreachable(let location, let reason):
            return "the artifact mirror \(location) cannot be used: \(reason); check the address and the credentials "
                + "(--insecure for a plain-HTTP registry), or leave out --artifacts-from (and IMAGEGEN_ARTIFACTS_FROM) to fetch from apt and pip"
        case .corruptBlob(let location, let fileName, let digest, let detail):
            return "the artifact mirror \(location) holds other bytes for \(fileName) than the lock names (\(digest)): \(detail); "
                + "nothing was cached; delete the blob from the registry and run `imagegen mirror` again"
        case .invalidTag(let image, let tag):
            return "image name '\(image)' gives the mirror tag '\(tag)', which is not a registry tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
        case .artifactMissing(let image, let fileName):
            return "\(image): \(fileName) was neither in the cache nor fetched"
        }
    }
}
