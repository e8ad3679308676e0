import ArgumentParser
import Foundation
import ImageGen
import ImageModel

struct NewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write Images/NAME.yaml from another spec for a new torch series, and lock it.",
        discussion: """
            Copies OLD's spec (comments, packages, tools and config kept) with the torch \
            version changed and the CUDA, cuDNN and NCCL that the catalog gives that torch \
            release's default build; OLD's Python is kept when the release has wheels for it, \
            else the newest Python it has (and `new` says so). The old versions and OLD's name \
            are replaced in comments, the description, labels and tags too. The torch version \
            is the series in NAME (v2.15 → 2.15, the newest 2.15 release) or --torch: a series \
            (2.15) or an exact release (2.15.0). Then the spec is locked as `imagegen lock NAME` \
            would lock it.

            Refuses, writing nothing, when the catalog does not know the series, NAME exists \
            (unless --force), OLD does not exist, or the new spec would contradict the catalog; \
            when locking fails, the new spec is removed again.

            Examples:
              imagegen new v2.15 --from v2.14
              imagegen new v2.8-devel --from v2.7-devel --torch 2.8
              imagegen new v2.15 --from v2.14 --no-lock     # the spec only (offline)
              imagegen new lab --from v2.7 --torch 2.8.0    # an exact release
            """
    )

    @Argument(help: "The new spec's name (Images/NAME.yaml); a name like v2.15 names its torch series.")
    var name: String

    @Option(help: "The spec to copy (Images/OLD.yaml).")
    var from: String

    @Option(help: "The torch series (2.15) or exact release (2.15.0); default: the series in NAME.")
    var torch: String?

    @Flag(help: "Replace Images/NAME.yaml if it exists.")
    var force = false

    @Flag(help: "Write the spec only; do not lock it.")
    var noLock = false

    @OptionGroup var resolving: ResolveOptions

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if torch == nil, NewSpec.torchSeries(inName: name) == nil {
            throw ValidationError("'\(name)' names no torch series: pass --torch SERIES (e.g. --torch 2.15), or use a name like v2.15")
        }
    }

    func run() async throws {
        let catalog = try specs.loadCatalog()
        let new = try NewSpec(name: name, from: from, torch: torch, loader: SpecLoader(directory: specs.images), catalog: catalog)
        let path = "\(specs.images)/\(name).yaml"
        let tell: @Sendable () -> Void = {
            Console.status("wrote \(path) from \(new.old):")
            for change in new.changes { Console.status("  \(change)") }
        }
        guard !noLock else {
            try await NewImage.write(new, images: specs.images, force: force)
            return tell()
        }
        let locker = Locker(options: await resolving.lockerOptions(images: specs.images, catalog: catalog), progress: { Console.status($0) })
        // A spec that cannot be locked is removed again (NewImage.write), so nothing is left.
        try await NewImage.write(new, images: specs.images, force: force) { name in
            tell()
            let (lock, lockPath) = try await locker.lock(name)
            LockCommand.report(lock, path: lockPath)
        }
    }
}
