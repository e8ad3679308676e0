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
            throw ImageGenError.output(path: output, reason: "cannot create the parent directory \(parent): \(error.localizedDescription)")
        }
        let staging = "\(parent)/.\(outputURL.lastPathComponent).imagegen-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        return staging
    }

    /// Writes config, manifest and index into `layout` (whose layer blobs are in place), then
    /// the archive, then moves the layout to `output`.
    func finish(layout: LayoutWriter, layers: [PackedLayer], configuration: ImageConfiguration) throws -> ImagePacker.Result {
        let configDescriptor = try layout.write(document: configuration, mediaType: .imageConfig)
        let manifest = Manifest(config: configDescriptor, layers: layers.map(\.descriptor), annotations: annotations)
        var manifestDescriptor = try layout.write(document: manifest, mediaType: .imageManifest)
        manifestDescriptor.platform = platform
        let entries = tags.isEmpty
            ? [manifestDescriptor]
            : tags.map { tag -> Descriptor in
                var d = manifestDescriptor
                d.annotations = [AnnotationKey.refName: tag]
                return d
            }
        try layout.writeIndex(Index(manifests: entries))

        var result = ImagePacker.Result(manifest: manifestDescriptor, config: configDescriptor, layers: layers)
        let archiveTarget: String? = switch format {
        case .layout: nil
        case .archive: output
        case .both: output + ".tar"
        }
        if let archiveTarget {
            let docker = DockerArchiveManifest(
                config: "blobs/sha256/\(configDescriptor.digest.encoded)", repoTags: tags.map { "\(repository):\($0)" },
                layers: layers.map { "blobs/sha256/\($0.descriptor.digest.encoded)" })
            try ArchiveWriter.write(layout: LayoutDirectory(path: layout.path), dockerManifest: [docker], to: archiveTarget, mtime: mtime)
            result.archivePath = archiveTarget
        }
        if format != .archive {
            try Self.replace(output, with: layout.path)
            result.layoutPath = output
        }
        return result
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
            throw ImageGenError.output(path: path, reason: "cannot move the finished layout into place: \(error.localizedDescription)")
        }
        for name in DockerfileContextWriter.ownedNames where fm.fileExists(atPath: "\(staged).old/\(name)") {
            try? fm.moveItem(atPath: "\(staged).old/\(name)", toPath: "\(path)/\(name)")
        }
        try? fm.removeItem(atPath: staged + ".old")
    }
}
