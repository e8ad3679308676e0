import OCI

/// What goes wrong with what a registry store holds: the layer cache's records, and the
/// artifact mirror (`imagegen mirror`, `--artifacts-from`).
public enum RegistryStoreError: Error, CustomStringConvertible {
    /// A record in the store is not what imagegen writes.
    case invalidRecord(reference: String, reason: String)
    /// A blob was asked of a repository the cache does not read.
    case unknownRepository(String)
    /// A store option (`--cache-from`, `--cache-to`, `--artifacts-from`, `mirror --to`, or their
    /// environment variables) does not name a repository.
    case invalidRepository(option: String, value: String, reason: String)
    /// The artifact mirror could not be reached, or refused the request.
    case mirrorUnreachable(location: String, reason: String)
    /// The artifact mirror's blob for an artifact holds other bytes than the lock names.
    case corruptMirrorBlob(location: String, fileName: String, digest: Digest, detail: String)
    /// The mirror's tag for a lock would not be a valid tag (the image name has characters a tag cannot hold).
    case invalidMirrorTag(image: String, tag: String)
    /// A lock names an artifact that is neither in the cache nor fetched (an internal inconsistency).
    case mirrorArtifactMissing(image: String, fileName: String)

    public var description: String {
        switch self {
        case .invalidRecord(let reference, let reason):
            return "\(reference): not an imagegen cache record: \(reason); remove the tag or use another cache repository"
        case .unknownRepository(let name):
            return "\(name): not a repository of this layer cache"
        case .invalidRepository(let option, let value, let reason):
            return "\(option) '\(value)': \(reason); expected REGISTRY/REPOSITORY, e.g. registry.example:5000/team/artifacts"
        case .mirrorUnreachable(let location, let reason):
            return "the artifact mirror \(location) cannot be used: \(reason); check the address and the credentials "
                + "(--insecure for a plain-HTTP registry), or leave out --artifacts-from (and IMAGEGEN_ARTIFACTS_FROM) to fetch from apt and pip"
        case .corruptMirrorBlob(let location, let fileName, let digest, let detail):
            return "the artifact mirror \(location) holds other bytes for \(fileName) than the lock names (\(digest)): \(detail); "
                + "nothing was cached; delete the blob from the registry and run `imagegen mirror` again"
        case .invalidMirrorTag(let image, let tag):
            return "image name '\(image)' gives the mirror tag '\(tag)', which is not a registry tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
        case .mirrorArtifactMissing(let image, let fileName):
            return "\(image): \(fileName) was neither in the cache nor fetched"
        }
    }
}
