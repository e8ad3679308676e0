import ArgumentParser
import Foundation
import ImageGen
import Layers
import OCI

struct PackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack directory trees (or archives) into an OCI image, one layer per input.",
        discussion: """
            Each INPUT becomes one layer, base first. An INPUT is a directory or an archive \
            file: a tar (tar.gz, tar.xz, tar.zst) is unpacked first; a zip (a wheel, say) is \
            read in place, and a gzip layer then carries its deflated members' streams as they \
            are (--recompress deflates them anew; the tar, so the diff_id, is the same). Entries are sorted, \
            owned by root (unless --preserve-owners), and stamped with SOURCE_DATE_EPOCH (or 0), \
            so the same trees always give the same digests.

            Examples:
              imagegen pack rootfs/ app/ --out out/app --tag v1 --env PATH=/usr/bin:/bin
              imagegen pack rootfs/ --out out/app.tar --format archive --compression zstd
              imagegen pack rootfs/ --out out/app --format both --entrypoint /bin/sh --entrypoint -c
            """
    )

    @Argument(help: "Directories or archives, one layer each, base first.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Where to write the layout directory (or the archive with --format archive).")
    var out: String

    @Option(help: "layout, archive, or both (the archive then goes to OUT.tar).")
    var format: OutputFormat = .layout

    @Option(name: .long, help: "A tag for the image; repeat for several.")
    var tag: [String] = []

    @Option(help: "The repository name docker load gives the tags (archive only).")
    var repository: String = "imagegen"

    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: LayerCompressionKind = .gzip

    @Option(help: "Compression level (gzip 1-9, default 6; zstd 1-19, default 3).")
    var level: Int?

    @Option(help: "Threads for compression and for packing layers side by side (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "The target platform, os/arch[/variant].")
    var platform: String = "linux/amd64"

    @Option(name: .long, help: "An environment variable, NAME=value; repeat for several.")
    var env: [String] = []

    @Option(name: .long, help: "The entrypoint; repeat for each argument.")
    var entrypoint: [String] = []

    @Option(name: .long, help: "The default command; repeat for each argument.")
    var cmd: [String] = []

    @Option(help: "The working directory (absolute).")
    var workdir: String?

    @Option(help: "The user to run as (user, uid, user:group or uid:gid).")
    var user: String?

    @Option(name: .long, help: "A label, KEY=value; repeat for several.")
    var label: [String] = []

    @Option(name: .long, help: "A port to expose, PORT[/tcp|/udp]; repeat for several.")
    var expose: [String] = []

    @Flag(help: "Keep the files' owners from the host instead of root.")
    var preserveOwners = false

    @Flag(help: "Deflate gzip layers anew instead of carrying a zip input's deflate streams as they are.")
    var recompress = false

    @Flag(name: .shortAndLong, help: "Print the result as JSON on stdout.")
    var json = false

    func validate() throws {
        for item in env where !item.contains("=") || item.hasPrefix("=") {
            throw ValidationError("--env '\(item)': expected NAME=value")
        }
        for item in label where !item.contains("=") || item.hasPrefix("=") {
            throw ValidationError("--label '\(item)': expected KEY=value")
        }
        if let workdir, !workdir.hasPrefix("/") {
            throw ValidationError("--workdir '\(workdir)': expected an absolute path")
        }
        for port in expose {
            let parts = port.split(separator: "/", omittingEmptySubsequences: false)
            guard let number = Int(parts[0]), (1...65535).contains(number),
                  parts.count == 1 || (parts.count == 2 && ["tcp", "udp"].contains(parts[1]))
            else { throw ValidationError("--expose '\(port)': expected PORT or PORT/tcp or PORT/udp, PORT 1-65535") }
        }
        if threads < 1 { throw ValidationError("--threads \(threads): expected 1 or more") }
        // Library errors already name the value; as ValidationError they exit 64 (usage).
        do {
            _ = try Compression(compression, level: level)
            _ = try Platform(parsing: platform)
            _ = try BuildTime()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        var options = ImagePacker.Options(inputs: inputs, output: out)
        options.format = format
        options.tags = tag
        options.repository = repository
        options.compression = try Compression(compression, level: level)
        options.threads = threads
        options.platform = try Platform(parsing: platform)
        options.buildTime = try BuildTime()
        options.ownership = preserveOwners ? .preserve : .root
        options.reuseDeflateStreams = !recompress
        var config = ContainerConfig()
        config.env = env.isEmpty ? nil : env
        config.entrypoint = entrypoint.isEmpty ? nil : entrypoint
        config.cmd = cmd.isEmpty ? nil : cmd
        config.workingDir = workdir
        config.user = user
        config.labels = label.isEmpty ? nil : Dictionary(label.map(Self.split), uniquingKeysWith: { $1 })
        config.exposedPorts = expose.isEmpty
            ? nil : Dictionary(expose.map { ($0.contains("/") ? $0 : $0 + "/tcp", EmptyObject()) }, uniquingKeysWith: { $1 })
        options.config = config

        let result = try ImagePacker(options: options, progress: { Console.status($0) }).run()
        if json {
            struct Output: Encodable {
                var manifest: Descriptor
                var config: Descriptor
                var layers: [Descriptor]
                var diffIDs: [Digest]
                var layout: String?
                var archive: String?
            }
            print(try CanonicalJSON.pretty(Output(
                manifest: result.manifest, config: result.config, layers: result.layers.map(\.descriptor),
                diffIDs: result.layers.map(\.diffID), layout: result.layoutPath, archive: result.archivePath)))
        } else {
            for path in [result.layoutPath, result.archivePath].compactMap({ $0 }) {
                Console.status("wrote \(path)")
            }
            Console.status("manifest \(result.manifest.digest)")
        }
    }

    static func split(_ item: String) -> (String, String) {
        let eq = item.firstIndex(of: "=")!  // validate() checked the '='
        return (String(item[..<eq]), String(item[item.index(after: eq)...]))
    }
}

extension OutputFormat: ExpressibleByArgument {}
extension LayerCompressionKind: ExpressibleByArgument {}
