import ArgumentParser
import Artifacts
import Foundation
import ImageGen
import ImageModel
import OCI

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve a spec to exact artifacts and write Images/NAME.lock.json.",
        discussion: """
            Checks the spec against the compatibility catalog, resolves every Debian package \
            through apt (a private state, an empty dpkg status: the full closure) and every \
            wheel through pip for the target platform, cross-checks the wheels against torch's \
            own Requires-Dist pins, and writes the lock: names, versions, file names, sizes and \
            SHA-256, no URLs, and the time it was resolved ("resolved", the image's created \
            date; kept when the lock already pins the same artifacts).

            Sources are the host's apt and pip configuration unless named:
              --apt-sources / IMAGEGEN_APT_SOURCES    a sources file, or 'deb …' lines
              --index-url / IMAGEGEN_PIP_INDEX_URL    a PEP 503 simple index

            Examples:
              imagegen lock v2.7
              imagegen lock v2.7 --apt-sources /etc/apt/snapshot.sources
              imagegen lock --all
              imagegen lock --all --check     # CI: fail on a stale lock
            """
    )

    @Argument(help: "Spec names (Images/NAME.yaml).")
    var names: [String] = []

    @Flag(help: "Lock every spec in the images directory.")
    var all = false

    @Flag(help: "Resolve nothing: check that each lock exists and matches its spec (exit 1 if any is stale).")
    var check = false

    @OptionGroup var sources: SourceOptions

    @Option(help: "The pip command to resolve with, e.g. 'python3 -m pip' (default: a current pip kept in the cache).")
    var pip: String?

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if names.isEmpty && !all { throw ValidationError("name a spec (e.g. imagegen lock v2.7) or pass --all") }
    }

    func run() async throws {
        let targets = all ? SpecLoader(directory: specs.images).names() : names
        if check {
            var stale = 0
            for name in targets {
                let spec = try SpecLoader(directory: specs.images).load(name)
                let path = specs.lockPath(name)
                guard FileManager.default.fileExists(atPath: path) else {
                    Console.status("\(path): missing; run `imagegen lock \(name)`")
                    stale += 1
                    continue
                }
                if try Lockfile.load(path: path).matches(spec) {
                    Console.status("\(path): up to date")
                } else {
                    Console.status("\(path): stale, the spec changed since it was made; run `imagegen lock \(name)`")
                    stale += 1
                }
            }
            if stale > 0 { throw ExitCode(1) }
            return
        }
        var options = Locker.Options(images: specs.images, catalog: try specs.loadCatalog(), cacheDirectory: sources.cacheDirectory)
        options.aptSources = sources.apt
        options.pipIndexURL = sources.pipIndexURL
        options.pipExtraIndexURLs = sources.extraIndexURL
        options.pipUsesHostConfiguration = !sources.noPipConfig
        if let pip {
            options.pipCommand = pip.split(separator: " ").map(String.init)
        } else {
            options.pipCommand = await PipTool.current(cacheDirectory: options.cacheDirectory, progress: { Console.status($0) })
        }
        let locker = Locker(options: options, progress: { Console.status($0) })
        for name in targets {
            let (lock, path) = try await locker.lock(name)
            let bytes = lock.debs.reduce(0) { $0 + $1.size } + lock.wheels.reduce(0) { $0 + $1.size }
            Console.status("wrote \(path): \(lock.debs.count) debs, \(lock.wheels.count) wheels, \(ByteCount.text(bytes))")
        }
    }
}
