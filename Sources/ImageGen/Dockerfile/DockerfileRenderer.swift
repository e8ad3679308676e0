import Foundation
import ImageModel
import Mustache
import OCI
import Templates

/// Renders a ``DockerfileModel`` with a Mustache template: the built-in one for the image's
/// flavour (`Templates/Dockerfile.runtime.mustache`, `Dockerfile.devel.mustache`, compiled
/// into the binary), or a user's template file. Every template may include the built-in
/// partials (`{{> components}}`).
public enum DockerfileRenderer {
    /// The Dockerfile for `model`, rendered with the template at `templatePath` (nil: the
    /// built-in template of the model's flavour).
    public static func render(_ model: DockerfileModel, templatePath: String? = nil) throws -> String {
        var library = MustacheLibrary()
        for (name, text) in BuiltinTemplates.partials.sorted(by: { $0.key < $1.key }) {
            library.register(try parse(text, source: "built-in partial \(name)"), named: name)
        }
        let template: MustacheTemplate
        if let templatePath {
            let bytes: [UInt8]
            do {
                bytes = try FileReader.readAll(path: templatePath, limit: 4 << 20)
            } catch {
                throw ImageGenError.io(path: templatePath, action: "read the template", cause: error)
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ImageGenError.invalidInput(path: templatePath, reason: "the template is not UTF-8 text")
            }
            template = try parse(text, source: templatePath)
        } else {
            guard let text = BuiltinTemplates.dockerfiles[model.flavour] else {
                throw ImageGenError.invalidInput(path: model.image.spec.name, reason: "no built-in Dockerfile template for the flavour '\(model.flavour)'")
            }
            template = try parse(text, source: "built-in Dockerfile.\(model.flavour)")
        }
        return template.render(model.context, library: library)
    }

    /// A parsed template, or an error that names the source, line and column.
    static func parse(_ text: String, source: String) throws -> MustacheTemplate {
        do {
            return try MustacheTemplate(string: text)
        } catch let error as MustacheTemplate.ParserError {
            throw ImageGenError.invalidInput(
                path: "\(source):\(error.context.lineNumber):\(error.context.columnNumber)",
                reason: "not a valid Mustache template (\(error.error)): \(error.context.line.trimmingCharacters(in: .whitespaces))")
        }
    }
}

/// Writes a Dockerfile and its build context into a directory (by default `out/NAME/`, beside
/// the OCI layout that `imagegen build` writes there): `Dockerfile`, `.dockerignore` (the
/// context is the Dockerfile and `imagegen/` alone, never the layout's blobs) and `imagegen/`
/// with the entrypoint, `requirements/COMPONENT.txt` and the lock's pip wheel.
///
/// Each of the three is staged beside its final name and renamed into place, so a failure
/// leaves the previous files whole.
public struct DockerfileContextWriter {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Writes `dockerfile` and `model`'s context files; `pipWheel` is the path of the cached
    /// pip wheel (copied into the context), nil when the model has no wheels.
    public func write(dockerfile: String, model: DockerfileModel, pipWheel: String?) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ImageGenError.io(path: directory, action: "create the directory", cause: error)
        }
        let staging = "\(directory)/.imagegen-dockerfile-\(getpid())"
        try? fm.removeItem(atPath: staging)
        defer { try? fm.removeItem(atPath: staging) }
        let context = "\(staging)/\(DockerfileModel.contextDirectory)"
        for file in model.contextFiles {
            let path = "\(context)/\(file.path)"
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let writer = try AtomicFileWriter(path: path, mode: mode_t(file.mode))
            try writer.write(file.bytes)
            try writer.commit()
        }
        if let pipWheel, let locked = model.pipWheel {
            // A copy, hashed as it is written: what the context holds is what the lock names.
            let writer = try AtomicFileWriter(path: "\(context)/\(locked.fileName)")
            let hasher = DigestHasher()
            try FileReader(path: pipWheel).stream { chunk in
                hasher.update(chunk)
                try writer.write(chunk)
            }
            let digest = hasher.finalize()
            guard digest == locked.sha256 else {
                throw ImageGenError.invalidInput(path: pipWheel, reason: "has \(digest), the lock says \(locked.sha256)")
            }
            try writer.commit()
        } else if model.pipWheel != nil {
            throw ImageGenError.invalidInput(path: model.lockPath, reason: "the pip wheel was not fetched")
        }
        try AtomicFileWriter.write(Array(dockerfile.utf8), to: "\(staging)/Dockerfile")
        try AtomicFileWriter.write(Array(Self.dockerignore.utf8), to: "\(staging)/.dockerignore")

        // Into place: the context folder first, then the Dockerfile that refers to it.
        try Self.replace("\(directory)/\(DockerfileModel.contextDirectory)", with: context)
        for name in [".dockerignore", "Dockerfile"] {
            guard rename("\(staging)/\(name)", "\(directory)/\(name)") == 0 else {
                throw ImageGenError.output(path: "\(directory)/\(name)", reason: String(cString: strerror(errno)))
            }
        }
    }

    /// The context is the Dockerfile and imagegen's folder: `out/NAME/` also holds the OCI
    /// layout's blobs, which must not be sent to the builder.
    static let dockerignore = """
        # Written by imagegen: the build context is the Dockerfile and imagegen/ alone.
        *
        !Dockerfile
        !\(DockerfileModel.contextDirectory)

        """

    /// Moves the directory `staged` to `path`, replacing what was there.
    static func replace(_ path: String, with staged: String) throws {
        let fm = FileManager.default
        let old = "\(path).old-\(getpid())"
        if fm.fileExists(atPath: path) {
            guard rename(path, old) == 0 else { throw ImageGenError.output(path: path, reason: String(cString: strerror(errno))) }
        }
        guard rename(staged, path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(old, path)
            throw ImageGenError.output(path: path, reason: reason)
        }
        try? fm.removeItem(atPath: old)
    }

    /// The files this writer owns in an output directory; `imagegen build`, which replaces
    /// `out/NAME/` with a new layout, carries them over.
    public static let ownedNames = ["Dockerfile", ".dockerignore", DockerfileModel.contextDirectory]
}
