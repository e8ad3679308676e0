import Artifacts
import Foundation
import ImageModel
import OCI

/// `imagegen lock`: resolves a spec to exact artifacts through apt and pip, tags each with its
/// component, cross-checks the wheels against the catalog and torch's own pins, and writes
/// `Images/NAME.lock.json` atomically.
public struct Locker: Sendable {
    /// Where the sources and tools come from.
    public struct Options: Sendable {
        /// The directory of specs and locks.
        public var images: String
        /// The catalog.
        public var catalog: Catalog
        /// Where apt's private state lives.
        public var cacheDirectory: String
        /// apt sources (default: the host's).
        public var aptSources: AptResolver.Sources = .host
        /// pip index URL (default: pip's own configuration).
        public var pipIndexURL: String?
        /// Extra pip index URLs.
        public var pipExtraIndexURLs: [String] = []
        /// The pip command.
        public var pipCommand: [String] = ["python3", "-m", "pip"]
        /// Whether pip reads the host's configuration (`pip.conf`, `PIP_*` variables); when
        /// `false` it runs isolated and sees only the index URLs above.
        public var pipUsesHostConfiguration = true
        /// The target glibc minor version for the manylinux ladder (bookworm: 2.36).
        public var glibcMinor = 36
        /// The time a resolution records as the lock's `resolved` (nil: ``BuildTime/now()``,
        /// the clock, when the resolution ends).
        public var resolutionTime: BuildTime?

        /// Options with defaults.
        public init(images: String, catalog: Catalog, cacheDirectory: String) {
            self.images = images
            self.catalog = catalog
            self.cacheDirectory = cacheDirectory
        }
    }

    let options: Options
    let progress: @Sendable (String) -> Void

    /// A locker; `progress` gets one line per step.
    public init(options: Options, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.options = options
        self.progress = progress
    }

    /// Resolves `name` and writes its lock; returns the lock and its path. When the lock there
    /// already pins the same artifacts, it keeps its `resolved` date (and so its bytes).
    public func lock(_ name: String) async throws -> (Lockfile, String) {
        var lock = try await resolve(name)
        let path = "\(options.images)/\(name).lock.json"
        if let existing = try? Lockfile.load(path: path), existing.resolved != nil, existing.pinsTheSame(as: lock) {
            lock.resolved = existing.resolved
        }
        try AtomicFileWriter.write(lock.encoded(), to: path)
        return (lock, path)
    }

    /// Resolves `name` to the newest artifacts its spec and the catalog allow, writing nothing;
    /// the lock's `resolved` is ``Options/resolutionTime`` or the clock.
    public func resolve(_ name: String) async throws -> Lockfile {
        let spec = try SpecLoader(directory: options.images).load(name)
        // Every platform is checked against the catalog before any of them touches the network.
        let resolver = ImageResolver(catalog: options.catalog)
        _ = try resolver.resolve(spec)
        let platforms = spec.platformNames
        var locks: [Lockfile] = []
        for platform in platforms {
            if platforms.count > 1 { progress("\(platform):") }
            locks.append(try await resolve(name, spec: spec, image: try resolver.resolve(spec.forPlatform(platform))))
        }
        var lock = Lockfile.combining(locks)
        lock.resolved = options.resolutionTime ?? BuildTime.now()
        return lock
    }

    /// One platform's resolution (`image` is the spec resolved for it).
    private func resolve(_ name: String, spec: ImageSpec, image: ResolvedImage) async throws -> Lockfile {
        let debs = try await resolveDebs(image)
        let wheels = try await resolveWheels(image)
        let conflicts = LockCheck.conflicts(
            image, wheels: wheels.map { WheelFacts(name: $0.wheel.normalizedName, version: $0.wheel.version, requiresDist: $0.wheel.requiresDist) })
        guard conflicts.isEmpty else {
            throw ConflictError(image: spec.platforms == nil ? name : "\(name) (linux/\(image.spec.base.architecture))", conflicts: conflicts)
        }

        var components: [String: String] = [:]
        for node in image.graph.nodes where node.kind != .config { components[node.kind.rawValue] = node.label }
        return Lockfile(
            image: name, specDigest: try Lockfile.digest(of: spec), platform: "linux/\(image.spec.base.architecture)",
            components: components,
            debs: debs.map {
                LockedDeb(
                    component: $0.component, name: $0.deb.name, version: $0.deb.version, architecture: $0.deb.architecture,
                    fileName: $0.deb.fileName, path: $0.deb.poolPath, size: $0.deb.size, sha256: $0.deb.sha256)
            },
            wheels: wheels.map {
                LockedWheel(
                    component: $0.component, name: $0.wheel.normalizedName, version: $0.wheel.version,
                    fileName: $0.wheel.fileName, size: $0.wheel.size, sha256: $0.wheel.sha256)
            })
    }

    /// Debian packages, component by component in layer order: each component's packages are
    /// the closure of everything so far minus what earlier components already hold.
    func resolveDebs(_ image: ResolvedImage) async throws -> [(component: ComponentKind, deb: ResolvedDeb)] {
        let resolver = AptResolver(
            cacheDirectory: "\(options.cacheDirectory)/apt", architecture: image.spec.base.architecture, sources: options.aptSources)
        // Cumulative request sets, base → python → tools, resolved after one apt-get update.
        var kinds: [ComponentKind] = []
        var sets: [[AptPackageRequest]] = []
        for kind in ComponentKind.allCases {
            guard let names = image.aptRequests[kind] else { continue }
            kinds.append(kind)
            sets.append((sets.last ?? []) + (try names.map { try AptPackageRequest(parsing: $0) }))
            progress("apt: resolving \(kind) (\(names.joined(separator: " ")))")
        }
        // A minimal base leaves out Debian's Essential/required set (spec: base.minimal).
        let closures = try await resolver.resolve(closures: sets, includeBaseSystem: image.spec.base.minimal != true)
        var taken = Set<String>()
        var out: [(ComponentKind, ResolvedDeb)] = []
        for (kind, closure) in zip(kinds, closures) {
            for deb in closure where taken.insert("\(deb.name):\(deb.architecture)").inserted {
                out.append((kind, deb))
            }
        }
        progress("apt: \(out.count) packages")
        return out
    }

    /// Wheels, resolved in one pip run, then assigned to components: NVIDIA's library wheels by
    /// name, the requested projects to the component that asked, and every dependency to the
    /// first component (in layer order) that needs it.
    func resolveWheels(_ image: ResolvedImage) async throws -> [(component: ComponentKind, wheel: ResolvedWheel)] {
        let requirements = ComponentKind.allCases.flatMap { image.pipRequirements[$0] ?? [] }
        guard !requirements.isEmpty, let python = image.spec.python else { return [] }
        let resolver = PipResolver(
            pythonVersion: "\(python.version.majorMinor)",
            platforms: PipResolver.manylinuxPlatforms(
                glibcMinor: options.glibcMinor, architecture: ImageSpec.machine(of: image.spec.base.architecture)),
            indexURL: options.pipIndexURL, extraIndexURLs: options.pipExtraIndexURLs, pipCommand: options.pipCommand,
            usesHostConfiguration: options.pipUsesHostConfiguration)
        progress("pip: resolving \(requirements.count) requirements for Python \(python.version.majorMinor)")
        let wheels = try await resolver.resolve(requirements)
        progress("pip: \(wheels.count) wheels")

        var owner: [String: ComponentKind] = [:]
        for wheel in wheels {
            let name = wheel.normalizedName
            if name.hasPrefix("nvidia-cudnn") { owner[name] = .cudnn }
            else if name.hasPrefix("nvidia-nccl") { owner[name] = .nccl }
            else if name.hasPrefix("nvidia-") || name == "cuda-toolkit", image.spec.cuda != nil { owner[name] = .cuda }
        }
        let byName = Dictionary(wheels.map { ($0.normalizedName, $0) }, uniquingKeysWith: { first, _ in first })
        for kind in ComponentKind.allCases {
            for requirement in image.pipRequirements[kind] ?? [] {
                let name = SpecLoader.projectName(requirement)
                if owner[name] == nil { owner[name] = kind }
            }
        }
        // Dependencies go to the first component that needs them; requirements that only an
        // extra pulls in (jsonschema[format-nongpl] under jupyterlab) are followed second.
        for followExtras in [false, true] {
            for kind in ComponentKind.allCases {
                var queue = owner.filter { $0.value == kind }.map(\.key).sorted()
                while let name = queue.popLast() {
                    guard let wheel = byName[name] else { continue }
                    for line in wheel.requiresDist where followExtras || !line.contains("extra") {
                        let dependency = SpecLoader.projectName(line)
                        if byName[dependency] != nil, owner[dependency] == nil {
                            owner[dependency] = kind
                            queue.append(dependency)
                        }
                    }
                }
            }
        }
        let last = ComponentKind.allCases.last { image.pipRequirements[$0] != nil } ?? .packages
        return wheels.map { (owner[$0.normalizedName] ?? last, $0) }
    }
}
