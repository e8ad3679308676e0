import ImageModel
import OCI

/// What an image declares besides its layers — labels, the entrypoint — computed once for both
/// ways of making it: imagegen's own OCI build (``LayerPlan``) and the Dockerfile that
/// ``DockerfileModel`` renders, so that the two agree.
enum ImageMetadata {
    /// Where the config layer puts the entrypoint script.
    static let entrypointPath = "/usr/local/bin/imagegen-entrypoint"

    /// The entrypoint: the spec's, or imagegen's script.
    static func entrypoint(_ spec: ImageSpec) -> [String] {
        spec.config.entrypoint ?? [entrypointPath]
    }

    /// Labels (and manifest annotations): the spec's, OCI's, then imagegen's versions.
    /// `created` is ``BuildTime/created(sourceDateEpoch:resolved:)`` of the lock.
    static func labels(image: ResolvedImage, lock: Lockfile, created: BuildTime, revision: String?, sourceURL: String?) -> [String: String] {
        let spec = image.spec
        var labels = spec.config.labels
        labels["org.opencontainers.image.created"] = created.rfc3339
        // The release, also for a spec that follows a series (`2.7` → the locked 2.7.1).
        let torchVersion = image.torch?.version ?? spec.torch?.version
        labels["org.opencontainers.image.version"] = torchVersion.map { "\($0)" } ?? spec.name
        labels["org.opencontainers.image.base.name"] = "\(spec.base.distribution):\(spec.base.release)"
        if let description = spec.description { labels["org.opencontainers.image.description"] = description }
        if let revision { labels["org.opencontainers.image.revision"] = revision }
        if let sourceURL { labels["org.opencontainers.image.source"] = sourceURL }
        labels["io.imagegen.image"] = spec.name
        if let torchVersion { labels["io.imagegen.torch.version"] = "\(torchVersion)" }
        if let cuda = spec.cuda { labels["io.imagegen.cuda.version"] = "\(cuda.version)"; labels["io.imagegen.cuda.flavour"] = cuda.flavour.rawValue }
        if let cudnn = spec.cudnn { labels["io.imagegen.cudnn.version"] = "\(cudnn.version)" }
        if let nccl = spec.nccl { labels["io.imagegen.nccl.version"] = "\(nccl.version)" }
        if let python = spec.python { labels["io.imagegen.python.version"] = "\(python.version)" }
        labels["io.imagegen.lock.spec-digest"] = lock.specDigest.description
        return labels
    }

    /// The interpreter the venv records in `pyvenv.cfg`: the full version, the upstream part of
    /// the locked `python3.X` deb (`3.11.2-6+deb12u6` → `3.11.2`); nil without Python.
    /// The Debian interpreter a lock installs without a venv: the upstream version of its
    /// `python3.X-minimal` package (the newest X when there are several), or nil.
    static func debianPython(lock: Lockfile) throws -> PythonVersion? {
        let minimal = lock.debs.filter { $0.name.hasPrefix("python3.") && $0.name.hasSuffix("-minimal") }
            .max { ($0.name.count, $0.name) < ($1.name.count, $1.name) }
        guard let deb = minimal else { return nil }
        let upstream = String(deb.version.split(separator: "-").first ?? "")
        return try PythonVersion(parsing: upstream.split(separator: "+").first.map(String.init) ?? upstream)
    }

    static func venvPython(spec: ImageSpec, lock: Lockfile) throws -> PythonVersion? {
        try spec.python.map { python in
            let deb = lock.debs.first { $0.name == python.version.debianPackage }
            let upstream = deb.map { String($0.version.split(separator: "-").first ?? "") } ?? "\(python.version.majorMinor)"
            return try PythonVersion(parsing: upstream.split(separator: "+").first.map(String.init) ?? upstream)
        }
    }
}
