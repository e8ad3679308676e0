import ArgumentParser
import Artifacts
import Foundation
import ImageModel
import OCI

struct CatalogRefreshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Read every torch release from 2.6 on from the package index's metadata into the catalog file.",
        discussion: """
            Reads the index's simple API (PEP 691 JSON, or the HTML page) and each wheel's \
            PEP 658 metadata file; downloads no wheel. Writes the torch section of the catalog \
            file atomically; the hand-kept sections (drivers, cuDNN support) stay as written.

            With --check it writes nothing, lists what the index has that the catalog lacks, \
            and exits 1 when there is anything (for CI).

            Examples:
              imagegen catalog refresh
              imagegen catalog refresh --check
              imagegen catalog refresh --catalog my-catalog.yaml --index-url https://mirror.example/simple
            """
    )

    @Flag(help: "Write nothing; exit 1 and list what the index has that the catalog lacks.")
    var check = false

    @Option(help: "The pip index URL (default: $IMAGEGEN_PIP_INDEX_URL, then pip's own configuration: $PIP_INDEX_URL, pip.conf; else PyPI).")
    var indexURL: String?

    @Flag(help: "Ignore the host's pip configuration (pip.conf, PIP_INDEX_URL).")
    var noPipConfig = false

    @Flag(name: .shortAndLong, help: "Print the report as JSON on stdout.")
    var json = false

    @OptionGroup var file: CatalogFileOptions

    func run() async throws {
        let explicit = indexURL ?? ProcessInfo.processInfo.environment["IMAGEGEN_PIP_INDEX_URL"]
        let url = await CatalogRefresher.indexURL(explicit: explicit, usesHostConfiguration: !noPipConfig)
        let report = try await CatalogRefresher.refreshFile(
            path: file.path, builtinText: Catalog.builtinYAML, indexURL: url, check: check, progress: { Console.status($0) })
        if json {
            print(try CanonicalJSON.pretty(report))
        }
        for line in report.missingDriverRows { Console.status("warning: \(line)") }
        if report.differences.isEmpty {
            Console.status("catalog: up to date with \(report.index) (\(report.releases.count) torch releases, \(report.metadataRead) metadata files read)")
        } else {
            Console.status(check ? "catalog: the index has what the catalog lacks:" : "catalog: refreshed from the index:")
            for line in report.differences { Console.status("  \(line)") }
        }
        if let wrote = report.wrote { Console.status("wrote \(wrote)") }
        if check && !report.differences.isEmpty { throw ExitCode(1) }
    }
}
