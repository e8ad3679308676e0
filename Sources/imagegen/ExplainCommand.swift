import ArgumentParser
import ImageModel
import OCI

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Say why each version of an image was chosen, and which catalog fact allowed it.",
        discussion: """
            Examples:
              imagegen explain v2.7
              imagegen explain v2.7 --json
            """
    )

    @Argument(help: "The spec name (Images/NAME.yaml).")
    var name: String

    @Flag(name: .shortAndLong, help: "Print the explanations as JSON on stdout.")
    var json = false

    @OptionGroup var specs: SpecOptions

    func run() async throws {
        let image = try specs.resolve(name)
        if json {
            print(try CanonicalJSON.pretty(image.explanations))
            return
        }
        for explanation in image.explanations {
            print("\(explanation.component): \(explanation.choice)")
            print("    because \(explanation.reason)")
            print("    source: \(explanation.source)")
        }
        if let require = image.environment["NVIDIA_REQUIRE_CUDA"] {
            print("NVIDIA_REQUIRE_CUDA=\(require)")
        }
    }
}
