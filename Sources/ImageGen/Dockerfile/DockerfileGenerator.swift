import Artifacts
import Foundation
import ImageModel
import OCI
import SystemSupport

/// `imagegen dockerfile` and `imagegen bake` as a library: loads a spec and its lock (refusing a
/// stale lock, as `build` does), makes the ``DockerfileModel``, renders it, lints the result
/// (``DockerfileLint``; a template that installs anything unpinned is refused) and writes the
/// Dockerfile with its context.
public struct DockerfileGenerator: Sendable {
    /// Where specs, locks, the catalog, the cache and the sources are (as for `build`; the
    /// pip wheel of the context is fetched like any locked artifact).
    public var options: Builder.Options
    /// The `FROM` default (nil: the pinned default for the spec's release).
    public var base: String?
    /// A template file to render instead of the built-in one.
    public var templatePath: String?
    /// imagegen's version, for the header.
    public var imagegenVersion: String

    public init(options: Builder.Options, base: String? = nil, templatePath: String? = nil, imagegenVersion: String) {
        self.options = options
        self.base = base
        self.templatePath = templatePath
        self.imagegenVersion = imagegenVersion
    }

    /// The model of image `name`, from `Images/NAME.yaml` and its lock.
    public func model(_ name: String) throws -> DockerfileModel {
        let spec = try SpecLoader(directory: options.images).load(name)
        let lockPath = "\(options.images)/\(name).lock.json"
        let lockBytes = try FileReader.readAll(path: lockPath, limit: 64 << 20)
        let lock = try Lockfile.load(path: lockPath)
        guard try lock.matches(spec) else {
            throw ImageGenError.staleLock(lock: lockPath, spec: "\(options.images)/\(name).yaml", image: name)
        }
        // A spec that follows a torch series resolves to the release its lock holds.
        let image = try ImageResolver(catalog: options.catalog).resolve(spec, lockedTorch: lock.torchVersion)
        // The header names the lock as it is in the repository (`Images/NAME.lock.json`), not by
        // this machine's path, so the Dockerfile is the same wherever it is rendered.
        let shownPath = "\(URL(fileURLWithPath: options.images).lastPathComponent)/\(name).lock.json"
        return try DockerfileModel(
            image: image, lock: lock, lockPath: shownPath, lockSHA256: Digest.of(lockBytes), base: base,
            sourceDateEpoch: options.sourceDateEpoch, revision: options.revision, imagegenVersion: imagegenVersion)
    }

    /// The Dockerfile of `model`, linted: throws one error listing every problem.
    public func render(_ model: DockerfileModel) throws -> String {
        let text = try DockerfileRenderer.render(model, templatePath: templatePath)
        let files = Dictionary(uniqueKeysWithValues: model.contextFiles.map { ($0.path, String(decoding: $0.bytes, as: UTF8.self)) })
        let problems = DockerfileLint.check(text) { path in
            // The Dockerfile reads the context at /run/imagegen (a bind mount) or imagegen/ (COPY).
            for prefix in ["/run/\(DockerfileModel.contextDirectory)/", "\(DockerfileModel.contextDirectory)/"] where path.hasPrefix(prefix) {
                return files[String(path.dropFirst(prefix.count))]
            }
            return nil
        }
        guard problems.isEmpty else {
            throw ImageGenError.invalidInput(
                path: templatePath ?? "built-in Dockerfile.\(model.flavour) template",
                reason: "the rendered Dockerfile for \(model.image.spec.name) does not pin what it installs: "
                    + problems.map(\.description).joined(separator: "; "))
        }
        return text
    }

    /// Renders `model` and writes the Dockerfile and its context into `directory`, fetching the
    /// lock's pip wheel into the cache first if it is not there.
    public func write(_ model: DockerfileModel, to directory: String, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        let text = try render(model)
        var pipWheel: String?
        if let locked = model.pipWheel {
            let fetched = try await options.fetcher(for: model.image.spec).fetch(
                debs: [], wheels: [locked], offline: options.offline, image: model.image.spec.name, progress: ProgressSink(notes: progress))
            pipWheel = fetched.paths[locked.sha256]
        }
        try DockerfileContextWriter(directory: directory).write(dockerfile: text, model: model, pipWheel: pipWheel)
    }
}
