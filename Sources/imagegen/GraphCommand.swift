import ArgumentParser
import Foundation
import ImageModel

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Show an image's component graph: a tree, DOT or Mermaid.",
        discussion: """
            Each component is shown with its version and, when Images/NAME.lock.json exists, \
            the bytes its locked artifacts weigh; each edge with the constraint it carries.

            Examples:
              imagegen graph v2.7
              imagegen graph v2.7 --format dot | dot -Tsvg > v2.7.svg
              imagegen graph v2.7 --format mermaid
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case tree, dot, mermaid }

    @Argument(help: "The spec name (Images/NAME.yaml).")
    var name: String

    @Option(help: "tree, dot or mermaid.")
    var format: Format = .tree

    @OptionGroup var specs: SpecOptions

    func run() async throws {
        let image = try specs.resolve(name)
        var sizes: [ComponentKind: Int64] = [:]
        if FileManager.default.fileExists(atPath: specs.lockPath(name)) {
            let lock = try Lockfile.load(path: specs.lockPath(name))
            for deb in lock.debs { sizes[deb.component, default: 0] += deb.size }
            for wheel in lock.wheels { sizes[wheel.component, default: 0] += wheel.size }
        }
        let renderer = GraphRenderer(graph: image.graph, sizes: sizes)
        switch format {
        case .tree: print(renderer.tree(title: "\(name)  (\(specs.images)/\(name).yaml)"))
        case .dot: print(renderer.dot(name: name))
        case .mermaid: print(renderer.mermaid())
        }
    }
}
