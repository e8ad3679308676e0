import ArgumentParser
import ImageModel

/// Where specs and the catalog come from; shared by the commands that read specs.
struct SpecOptions: ParsableArguments {
    @Option(name: .long, help: "The directory holding the specs (NAME.yaml, NAME.lock.json).")
    var images: String = "Images"

    @Option(name: .long, help: "A catalog YAML file to use instead of the built-in one.")
    var catalog: String?

    func loadCatalog() throws -> Catalog {
        try catalog.map(Catalog.load(path:)) ?? Catalog.builtin()
    }

    /// Loads and resolves a spec against the catalog.
    func resolve(_ name: String) throws -> ResolvedImage {
        let spec = try SpecLoader(directory: images).load(name)
        return try ImageResolver(catalog: loadCatalog()).resolve(spec)
    }

    func lockPath(_ name: String) -> String { "\(images)/\(name).lock.json" }
}
