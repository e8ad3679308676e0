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

            A spec whose torch version is a series ("2.7") is locked to the newest release \
            of that series in the catalog (2.7.1, say); an exact version (2.7.0) is locked as it is.

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

    @Flag(help: "Resolve nothing: check that each lock exists, matches its spec and holds the newest release of a torch series the spec follows (exit 1 if any is stale).")
    var check = false

    @OptionGroup var resolving: ResolveOptions

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if names.isEmpty && !all { throw ValidationError("name a spec (e.g. imagegen lock v2.7) or pass --all") }
    }

    func run() async throws {
        let targets = all ? SpecLoader(directory: specs.images).names() : names
        if check {
            let catalog = try specs.loadCatalog()
            var stale = 0
            for name in targets {
                let spec = try SpecLoader(directory: specs.images).load(name)
                let path = specs.lockPath(name)
                guard FileManager.default.fileExists(atPath: path) else {
                    Console.status("\(path): missing; run `imagegen lock \(name)`")
                    stale += 1
                    continue
                }
                if let reason = try Lockfile.load(path: path).staleness(for: spec, catalog: catalog) {
                    Console.status("\(path): \(reason)")
                    stale += 1
                } else {
                    Console.status("\(path): up to date")
                }
            }
            if stale > 0 { throw ExitCode(1) }
            return
        }
        let options = await resolving.lockerOptions(images: specs.images, catalog: try specs.loadCatalog())
        let locker = Locker(options: options, progress: { Console.status($0) })
        for name in targets {
            let (lock, path) = try await locker.lock(name)
            Self.report(lock, path: path)
        }
    }

    /// `wrote PATH: N debs, N wheels, SIZE`.
    /// For a multi-platform lock, one such clause per platform.
    static func report(_ lock: Lockfile, path: String) {
        let clauses = lock.perPlatform.map { one -> String in
            let bytes = one.debs.reduce(0) { $0 + $1.size } + one.wheels.reduce(0) { $0 + $1.size }
            let counts = "\(one.debs.count) debs, \(one.wheels.count) wheels, \(ByteCount.text(bytes))"
            return lock.platforms.count > 1 ? "\(one.platform) \(counts)" : counts
        }
        Console.status("wrote \(path): \(clauses.joined(separator: "; "))")
    }
}
