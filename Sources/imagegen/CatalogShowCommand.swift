import ArgumentParser
import ImageModel
import OCI

struct CatalogShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print what the catalog knows: every torch release, or one release's facts and their sources.",
        discussion: """
            Examples:
              imagegen catalog show
              imagegen catalog show torch 2.7.1
              imagegen catalog show --json
            """
    )

    @Argument(help: "'torch VERSION' for one release's facts.")
    var subject: [String] = []

    @Flag(name: .shortAndLong, help: "Print the catalog (or the release) as JSON on stdout.")
    var json = false

    @Option(name: .long, help: "A catalog YAML file to use instead of the built-in one.")
    var catalog: String?

    func validate() throws {
        guard subject.isEmpty || (subject.count == 2 && subject[0] == "torch") else {
            throw ValidationError("expected nothing or 'torch VERSION', got '\(subject.joined(separator: " "))'")
        }
        if subject.count == 2, (try? PEP440Version(parsing: subject[1])) == nil {
            throw ValidationError("'\(subject[1])' is not a version (e.g. 2.7.1)")
        }
    }

    func run() async throws {
        let catalog = try catalog.map(Catalog.load(path:)) ?? Catalog.builtin()
        if subject.count == 2 {
            let version = try PEP440Version(parsing: subject[1])
            guard let release = catalog.torch(version) else {
                let known = catalog.torch.map { "\($0.version)" }.joined(separator: ", ")
                throw ValidationError("torch \(version) is not in the catalog; known: \(known)")
            }
            if json {
                print(try CanonicalJSON.pretty(release))
            } else {
                for line in CatalogText.release(release) { print(line) }
            }
            return
        }
        if json {
            print(try CanonicalJSON.pretty(catalog))
            return
        }
        for line in CatalogText.summary(catalog) { print(line) }
    }
}
