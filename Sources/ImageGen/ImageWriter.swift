import Foundation
import Layers
import OCI

/// Writes the documents of a finished image — config, manifest, index — and puts the layout
/// and/or the archive in place atomically. `pack` and `build` share it.
struct ImageWriter {
    /// Where the image goes.
    var output: String
    /// Layout, archive or both.
    var format: OutputFormat
    /// Tags (`ref.name` in the index, `REPOSITORY:TAG` for docker load).
    var tags: [String]
    /// The repository docker load gives the tags.
    var repository: String
    /// The platform in the index.
    var platform: Platform
    /// The archive members' mtime.
    var mtime: Int64
    /// Annotations on the manifest.
    var annotations: [String: String]? = nil

    /// A staging directory beside `output` (its parent is created), empty.
    static func makeStaging(for output: String) throws -> String {
        let outputURL = URL(fileURLWithPath: output)
        let parent = outputURL.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ImageGenError.io(path: parent, action: "create the parent directory of \(output)", cause: error)
        }
        let staging = "\(parent)/.\(outputURL.lastPathComponent).imagegen-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        return staging
    }

    /// One platform's image: its layers (their blobs in the layout already) and configuration.
    struct PlatformImage {
        var platform: Platform
        var layers: [PackedLayer]
        var configuration: ImageConfiguration
        var annotations: [String: String]?
    }

    /// What ``finish(layout:images:)`` wrote: each platform's manifest (in order) and the
    /// descriptor the tags name — the manifest of a one-platform image, else the image index.
    struct Written {
        var manifests: [ImagePacker.Result]
        var target: Descriptor
    }

    /// Writes config, manifest and index into `layout` (whose layer blobs are in place), then
    /// the archive, then moves the layout to `output`.
    func finish(layout: LayoutWriter, layers: [PackedLayer], configuration: ImageConfiguration) throws -> ImagePacker.Result {
        let image = PlatformImage(platform: platform, layers: layers, configuration: configuration, annotations: annotations)
        return try finish(layout: layout, images: [image]).manifests[0]
    }

    /// Writes each platform's config and manifest, and — for more than one platform — an image
    /// index of the manifests with their platforms; `index.json` names the manifest or that
    /// index once per tag. The archive's `manifest.json` (what `docker load` reads) lists the
    /// image of the host's architecture, or the first. Then the layout is moved into place.
    func finish(layout: LayoutWriter, images: [PlatformImage]) throws -> Written {
        precondition(!images.isEmpty, "an image has at least one platform")
        var results: [ImagePacker.Result] = []
        for image in images {
            let configDescriptor = try layout.write(document: image.configuration, mediaType: .imageConfig)
            let manifest = Manifest(config: configDescriptor, layers: image.layers.map(\.descriptor), annotations: image.annotations)
            var manifestDescriptor = try layout.write(document: manifest, mediaType: .imageManifest)
            manifestDescriptor.platform = image.platform
            results.append(ImagePacker.Result(manifest: manifestDescriptor, config: configDescriptor, layers: image.layers))
        }
        var target = results[0].manifest
        if results.count > 1 {
            target = try layout.write(document: Index(manifests: results.map(\.manifest), annotations: images[0].annotations), mediaType: .imageIndex)
        }
        let entries = tags.isEmpty
            ? [target]
            : tags.map { tag -> Descriptor in
                var d = target
                d.annotations = [AnnotationKey.refName: tag]
                return d
            }
        try layout.writeIndex(Index(manifests: entries))

        let archiveTarget: String? = switch format {
        case .layout: nil
        case .archive: output
        case .both: output + ".tar"
        }
        if let archiveTarget {
            let loaded = results.first { $0.manifest.platform?.architecture == Platform.hostArchitecture } ?? results[0]
            let docker = DockerArchiveManifest(
                config: "blobs/sha256/\(loaded.config.digest.encoded)", repoTags: tags.map { "\(repository):\($0)" },
                layers: loaded.layers.map { "blobs/sha256/\($0.descriptor.digest.encoded)" })
            try ArchiveWriter.write(layout: LayoutDirectory(path: layout.path), dockerManifest: [docker], to: archiveTarget, mtime: mtime)
            for index in results.indices { results[index].archivePath = archiveTarget }
        }
        if format != .archive {
            try Self.replace(output, with: layout.path)
            for index in results.indices { results[index].layoutPath = output }
        }
        return Written(manifests: results, target: target)
    }

    /// Moves the finished staging directory to `path`, replacing what was there — except the
    /// Dockerfile and its context that `imagegen dockerfile` wrote beside the layout, which are
    /// carried over.
    static func replace(_ path: String, with staged: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ImageGenError.output(path: path, reason: "exists and is not a directory; remove it or choose another --out")
            }
            try fm.moveItem(atPath: path, toPath: staged + ".old")
        }
        do {
            try fm.moveItem(atPath: staged, toPath: path)
        } catch {
            throw ImageGenError.io(path: path, action: "move the finished layout into place", cause: error)
        }
        for name in DockerfileContextWriter.ownedNames where fm.fileExists(atPath: "\(staged).old/\(name)") {
            try? fm.moveItem(atPath: "\(staged).old/\(name)", toPath: "\(path)/\(name)")
        }
        try? fm.removeItem(atPath: staged + ".old")
    }
}
