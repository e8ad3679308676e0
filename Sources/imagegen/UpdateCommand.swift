import ArgumentParser
import Artifacts
import Foundation
import ImageGen
import ImageModel
import OCI

struct UpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Re-resolve a lock to the newest versions its spec and the catalog allow, and show the diff.",
        discussion: """
            Resolves the spec again through apt and pip, exactly as `lock` does: every package \
            the spec does not pin exactly moves to the newest version the sources offer \
            (Debian security updates, CUDA library patches, new wheels of unpinned packages); \
            pinned versions (torch 2.7.0) stay; a spec that follows a series (torch "2.7") \
            moves to the newest release of the series in the catalog, and says so. Prints each change (old → new) and writes the lock atomically; \
            with --dry-run it writes nothing. Exit 0 whether or not something changed; \
            --check exits 1 when the lock is not the newest (for a scheduled CI job).

            Examples:
              imagegen update v2.7 --dry-run
              imagegen update v2.7 && imagegen plan
            """
    )

    @Argument(help: "Spec names (Images/NAME.yaml).")
    var names: [String] = []

    @Flag(help: "Update every spec in the images directory.")
    var all = false

    @Flag(help: "Show the diff, write nothing.")
    var dryRun = false

    @Flag(help: "Write nothing; exit 1 if any lock would change.")
    var check = false

    @OptionGroup var resolving: ResolveOptions

    @Flag(name: .shortAndLong, help: "Print the diff as JSON on stdout.")
    var json = false

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if names.isEmpty && !all { throw ValidationError("name a spec (e.g. imagegen update v2.7) or pass --all") }
    }

    func run() async throws {
        let targets = all ? SpecLoader(directory: specs.images).names() : names
        let options = await resolving.lockerOptions(images: specs.images, catalog: try specs.loadCatalog())
        let locker = Locker(options: options, progress: { Console.status($0) })
        var diffs: [String: LockDiff] = [:]
        var outdated = 0
        for name in targets {
            let path = specs.lockPath(name)
            let old = try Lockfile.load(path: path)
            let new = try await locker.resolve(name)
            let diff = LockDiff(old: old, new: new)
            diffs[name] = diff
            // A resolution to the same artifacts is no change: the lock keeps its date.
            if old.pinsTheSame(as: new) {
                Console.status("\(path): already the newest")
                continue
            }
            outdated += 1
            Console.status("\(name): \(diff.changes.count) change\(diff.changes.count == 1 ? "" : "s")")
            if let move = new.seriesMove(from: old, spec: try SpecLoader(directory: specs.images).load(name)) {
                Console.status("  \(move)")
            }
            for change in diff.changes { Console.status("  \(change)") }
            if diff.isEmpty { Console.status("  (the spec digest changed; no artifact did)") }
            if dryRun || check {
                Console.status("\(path): not written (\(dryRun ? "--dry-run" : "--check"))")
            } else {
                try AtomicFileWriter.write(new.encoded(), to: path)
                Console.status("wrote \(path)")
            }
        }
        if json { print(try CanonicalJSON.pretty(diffs)) }
        if check && outdated > 0 { throw ExitCode(1) }
    }
}
