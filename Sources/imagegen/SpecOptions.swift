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

    /// Loads and resolves a spec against the catalog. A spec that follows a torch series
    /// resolves to the release its lock holds, when it has a lock made from the spec as it is,
    /// so that `explain`, `graph` and `check-host` describe what a build of the lock makes.
    func resolve(_ name: String) throws -> ResolvedImage {
        let spec = try SpecLoader(directory: images).load(name)
        let lock = try? Lockfile.load(path: lockPath(name))
        let lockedTorch = lock.flatMap { (try? $0.matches(spec)) == true ? $0.torchVersion : nil }
        return try ImageResolver(catalog: loadCatalog()).resolve(spec, lockedTorch: lockedTorch)
    }

    func lockPath(_ name: String) -> String { "\(images)/\(name).lock.json" }
}
