import ArgumentParser
import Foundation
import ImageGen
import ImageModel
import OCI

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Which images and layers change between two revisions of Images/, and the bytes to build and push.",
        discussion: """
            Compares the specs and locks of the images directory at a git revision (--base, \
            default HEAD) with the working tree (or --head REV), or two lock files given as \
            arguments. For each image: added, changed, unchanged or removed; for each changed \
            layer, why (a package's version, a new hash, the Python version, the accounts). \
            Bytes are the locked artifacts' sizes: "build" is what a fresh runner fetches and \
            packs (every layer of a changed image), "push" what a push sends (changed layers \
            only: unchanged layers keep their digests).

            --json prints a GitHub Actions matrix of the images to build: \
            {"include":[{"image":"v2.7","status":"changed","layers":["packages"],...}]}.

            Examples:
              imagegen plan --base origin/main
              imagegen plan --base v1.0 --head HEAD --json
              imagegen plan old/v2.7.lock.json Images/v2.7.lock.json
            """
    )

    @Argument(help: "Two lock files to compare instead (OLD NEW).")
    var locks: [String] = []

    @Option(help: "The git revision to compare from.")
    var base: String = "HEAD"

    @Option(help: "The git revision to compare to (default: the working tree).")
    var head: String?

    @Option(name: .long, help: "The directory holding the specs (NAME.yaml, NAME.lock.json).")
    var images: String = "Images"

    @Flag(help: "List unchanged images too.")
    var all = false

    @Flag(name: .shortAndLong, help: "Print a CI matrix of the images to build as JSON on stdout.")
    var json = false

    func validate() throws {
        if !locks.isEmpty && locks.count != 2 { throw ValidationError("give two lock files (OLD NEW), or none to compare git revisions") }
    }

    func run() async throws {
        let changes: [ImagePlanner.ImageChange]
        if locks.count == 2 {
            let old = try Lockfile.load(path: locks[0]), new = try Lockfile.load(path: locks[1])
            changes = ImagePlanner.plan(
                base: [new.image: .init(spec: nil, lock: old)], head: [new.image: .init(spec: nil, lock: new)])
        } else {
            let before = try ImagePlanner.side(revision: base, directory: images)
            let after = try head.map { try ImagePlanner.side(revision: $0, directory: images) } ?? ImagePlanner.side(directory: images)
            changes = ImagePlanner.plan(base: before, head: after)
        }
        let toBuild = changes.filter { $0.status == "added" || $0.status == "changed" }
        if json {
            struct Entry: Encodable {
                var image: String
                var status: String
                var layers: [String]
                var buildBytes: Int64
                var pushBytes: Int64
                var tags: [String]
            }
            struct Matrix: Encodable { var include: [Entry] }
            let matrix = Matrix(include: toBuild.map {
                Entry(image: $0.image, status: $0.status, layers: $0.changedLayers, buildBytes: $0.buildBytes, pushBytes: $0.pushBytes, tags: $0.tags)
            })
            print(String(decoding: try CanonicalJSON.encode(matrix), as: UTF8.self))
        }
        Console.status("image        status     build       push        layers that change")
        for change in changes where all || change.status != "unchanged" {
            let layers = change.status == "removed" ? "" : change.changedLayers.joined(separator: ", ")
            Console.status(
                change.image.padding(toLength: 13, withPad: " ", startingAt: 0) + change.status.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + ByteCount.text(change.buildBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                    + ByteCount.text(change.pushBytes).padding(toLength: 12, withPad: " ", startingAt: 0)
                    + (layers.isEmpty ? (change.status == "changed" ? "(image config only)" : "") : layers))
            for layer in change.layers where layer.changed && change.status == "changed" {
                for reason in layer.reasons.prefix(8) { Console.status("    \(layer.name): \(reason)") }
                if layer.reasons.count > 8 { Console.status("    \(layer.name): … and \(layer.reasons.count - 8) more") }
            }
            for reason in change.reasons where change.status == "changed" { Console.status("    image: \(reason)") }
        }
        let build = toBuild.reduce(0) { $0 + $1.buildBytes }, push = toBuild.reduce(0) { $0 + $1.pushBytes }
        Console.status("\(toBuild.count) of \(changes.count) image\(changes.count == 1 ? "" : "s") to build: \(ByteCount.text(build)) to build, \(ByteCount.text(push)) to push")
    }
}
