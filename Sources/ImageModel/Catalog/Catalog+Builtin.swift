extension Catalog {
    /// The compatibility catalog shipped with imagegen, as YAML: `Catalog/catalog.yaml`, compiled
    /// into the binary (a SwiftPM resource embedded in code). `imagegen catalog refresh` rewrites
    /// that file from the package index; `imagegen --catalog FILE` reads another file of the
    /// same shape instead.
    public static var builtinYAML: String { String(decoding: PackageResources.catalog_yaml, as: UTF8.self) }
}
