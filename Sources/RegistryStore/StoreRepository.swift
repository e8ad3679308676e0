import Registry

/// `REGISTRY/REPOSITORY` as the store's options take it — `build --cache-from`/`--cache-to`,
/// `--artifacts-from`, `mirror --to`, `plan --cache-from`: a repository and never a tag or a
/// digest, since the tags in a store repository are imagegen's to choose (`layer-HEX`,
/// `NAME-lock-HEX`).
public enum StoreRepository {
    /// Parses `value`, given to `option` (a flag or an environment variable).
    /// - Throws: ``RegistryStoreError/invalidRepository(option:value:reason:)``.
    public static func parse(_ value: String, option: String) throws -> ImageReference {
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: value)
        } catch {
            throw RegistryStoreError.invalidRepository(option: option, value: value, reason: "\(error)")
        }
        guard reference.tag == nil, reference.digest == nil else {
            throw RegistryStoreError.invalidRepository(
                option: option, value: value, reason: "it names a \(reference.digest == nil ? "tag" : "digest"); the tags in a store repository are imagegen's to choose")
        }
        return reference
    }
}
