import ArgumentParser
import Foundation

/// `imagegen catalog`: what the compatibility catalog knows, and its refresh from the index.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Show the compatibility catalog, or refresh it from the package index's metadata.",
        subcommands: [CatalogShowCommand.self, CatalogRefreshCommand.self]
    )
}

/// The catalog file a catalog command reads: `--catalog FILE`, else the repository's data
/// file when run in a checkout of imagegen, else the built-in one (`nil`).
struct CatalogFileOptions: ParsableArguments {
    @Option(name: .long, help: "A catalog YAML file (default: Sources/ImageModel/Catalog/catalog.yaml when run in imagegen's repository, else the built-in catalog).")
    var catalog: String?

    /// The data file's path inside imagegen's repository.
    static let repositoryFile = "Sources/ImageModel/Catalog/catalog.yaml"

    var path: String? {
        catalog ?? (FileManager.default.fileExists(atPath: Self.repositoryFile) ? Self.repositoryFile : nil)
    }
}
