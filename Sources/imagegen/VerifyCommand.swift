import ArgumentParser
import ImageGen
import OCI

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an image layout or archive: digests, sizes, diff_ids, schemas, entry safety.",
        discussion: """
            Reads every blob once. Checks each blob's size and digest, each layer's diff_id \
            against the config, media types, the schema of the index, manifests and config, \
            descriptor rules, that every referenced blob is present, that an index lists a \
            manifest, and that no layer entry escapes the root (absolute paths, '..', symlink or \
            hard link escapes), is written or hard-linked through a symlink an earlier entry \
            made, or is a device node. Each problem is printed as one line; exit status 0 only \
            if there are none.

            Examples:
              imagegen verify out/app
              imagegen verify out/app.tar --json
            """
    )

    @Argument(help: "An OCI layout directory or an image archive (tar).")
    var path: String

    @Flag(help: "Accept character and block device nodes in layers.")
    var allowDevices = false

    @Flag(name: .shortAndLong, help: "Print the report as JSON on stdout.")
    var json = false

    func run() async throws {
        let report = ImageVerifier(allowDevices: allowDevices).verify(path: path)
        if json {
            print(try CanonicalJSON.pretty(report))
        }
        for problem in report.problems { Console.status(problem.description) }
        if report.ok {
            Console.status(
                "\(path): ok (\(report.manifests) manifest\(report.manifests == 1 ? "" : "s"), \(report.layers) layers, "
                    + "\(report.entries) entries, \(report.bytes) bytes read)")
        } else {
            Console.status("\(path): \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
            throw ExitCode(1)
        }
    }
}
