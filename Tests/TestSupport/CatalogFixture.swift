import ImageModel

/// A catalog as it was written by hand, before any refresh from an index: the built-in
/// catalog's hand-kept sections (drivers, cuDNN support, system libraries) and its torch 2.6.0,
/// 2.7.0 and 2.8.0 without what a refresh reads (wheels, platforms, companion sources). Tests of
/// `catalog refresh` start from it, so they do not move when the shipped catalog is refreshed.
public enum CatalogFixture {
    /// The releases kept.
    public static let versions = ["2.6.0", "2.7.0", "2.8.0"]

    /// The catalog's YAML.
    public static func handKeptYAML() throws -> String {
        let kept = try Catalog.builtin().torch.filter { versions.contains($0.version.description) }.map { release in
            var release = release
            release.platforms = nil
            release.wheels = nil
            release.companionSources = nil
            return release
        }
        return try CatalogRefresh.yaml(replacingTorchIn: Catalog.builtinYAML, with: kept)
    }
}
