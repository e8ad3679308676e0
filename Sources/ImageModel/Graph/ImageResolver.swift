/// Why a version was chosen, and which catalog fact allowed it.
public struct Explanation: Hashable, Sendable, Codable {
    /// The component.
    public var component: ComponentKind
    /// What was chosen.
    public var choice: String
    /// Why, as a sentence.
    public var reason: String
    /// The catalog fact's source (or the spec line).
    public var source: String
}

/// Conflicts between a spec and the catalog, each a sentence naming the chain and the spec line.
public struct ConflictError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The spec's name.
    public var image: String
    /// One sentence per conflict.
    public var conflicts: [String]

    /// Conflicts found in `image`.
    public init(image: String, conflicts: [String]) {
        self.image = image
        self.conflicts = conflicts
    }

    public var description: String {
        conflicts.count == 1
            ? "\(image): \(conflicts[0])"
            : "\(image): \(conflicts.count) conflicts:\n" + conflicts.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// A spec checked against the catalog: the graph, the facts behind each version, what apt and
/// pip must resolve, and the environment the image declares.
public struct ResolvedImage: Hashable, Sendable {
    /// The spec.
    public var spec: ImageSpec
    /// The component graph.
    public var graph: ComponentGraph
    /// Components in dependency order (dependencies first).
    public var order: [ComponentKind]
    /// Why each version is what it is.
    public var explanations: [Explanation]
    /// The torch release, when the image has torch.
    public var torch: TorchRelease?
    /// The torch build for the image's CUDA.
    public var torchBuild: TorchBuild?
    /// The CUDA release.
    public var cuda: CUDARelease?
    /// The oldest driver the image runs on.
    public var driverFloor: DriverVersion?
    /// Whether a component ships NVIDIA's cuda-compat libraries (the `cuda-compat-MAJOR-MINOR`
    /// package of NVIDIA's apt repository), so that older driver branches run the image's CUDA
    /// through forward compatibility. No component does unless the spec asks for that package;
    /// without it, `NVIDIA_REQUIRE_CUDA` lists no forward-compatible branch and `check-host`
    /// refuses a driver that only forward compatibility would serve.
    public var carriesCUDACompat: Bool
    /// Debian packages to resolve, per component.
    public var aptRequests: [ComponentKind: [String]]
    /// pip requirements to resolve, per component.
    public var pipRequirements: [ComponentKind: [String]]
    /// The environment the image declares (`NVIDIA_REQUIRE_CUDA`, `CUDA_VERSION`, …).
    public var environment: [String: String]
}

/// Checks a spec against the catalog and builds its graph.
public struct ImageResolver: Sendable {
    /// The catalog.
    public var catalog: Catalog

    /// A resolver over `catalog`.
    public init(catalog: Catalog) { self.catalog = catalog }

    /// Resolves `spec`, or throws every conflict found.
    ///
    /// A spec that follows a torch series (`2.7`) gets the newest release of the series the
    /// catalog knows, unless `lockedTorch` names the release its lock holds: a build reads the
    /// lock, so it resolves to what was locked, and `update` is what moves a lock along.
    public func resolve(_ spec: ImageSpec, lockedTorch: PEP440Version? = nil) throws -> ResolvedImage {
        var resolution = Resolution(spec: spec, resolver: self, lockedTorch: lockedTorch)
        // One rule per component, in the order their conflicts are reported.
        resolution.addNodes()
        resolution.checkCUDAAndDriver()
        resolution.checkCUDNN()
        resolution.checkTorch()
        resolution.checkCUDAPins()
        resolution.checkMinimalBase()
        resolution.checkLibrariesShippedOnce()
        resolution.checkPackagesOverlap()
        resolution.connectTools()
        return try resolution.finish()
    }

    /// One spec's resolution as it is worked out: the graph, the conflicts and the explanations
    /// so far, and the facts the rules share.
    private struct Resolution {
        let spec: ImageSpec
        let resolver: ImageResolver
        var catalog: Catalog { resolver.catalog }
        let torchChoice: TorchChoice?
        let cudaRelease: CUDARelease?
        var graph = ComponentGraph()
        var conflicts: [String] = []
        var explanations: [Explanation] = []
        var driverFloor: DriverVersion?
        var torchRelease: TorchRelease?
        var torchBuild: TorchBuild?

        init(spec: ImageSpec, resolver: ImageResolver, lockedTorch: PEP440Version?) {
            self.spec = spec
            self.resolver = resolver
            torchChoice = spec.torch.map { resolver.chooseTorch($0, spec: spec, lockedTorch: lockedTorch) }
            cudaRelease = spec.cuda.flatMap { resolver.catalog.cuda($0.version) }
        }

        /// A node per component the spec has.
        mutating func addNodes() {
            graph.add(.base, "\(spec.base.distribution) \(spec.base.release) \(spec.base.architecture)" + (spec.base.minimal == true ? " (minimal)" : ""))
            if let python = spec.python { graph.add(.python, "\(python.version)") }
            if let cuda = spec.cuda { graph.add(.cuda, "\(cuda.version) \(cuda.flavour.rawValue)") }
            if let cudnn = spec.cudnn { graph.add(.cudnn, "\(cudnn.version)") }
            if let nccl = spec.nccl { graph.add(.nccl, "\(nccl.version)") }
            if let torch = spec.torch {
                graph.add(.torch, "\(torchChoice?.release?.version ?? torch.version)" + (torch.companions.isEmpty ? "" : " + " + torch.companions.joined(separator: ", ")))
            }
            if !spec.packages.requirements.isEmpty { graph.add(.packages, spec.packages.requirements.joined(separator: ", ")) }
            let toolNames = [spec.tools.ssh ? "ssh" : nil, spec.tools.compiler ? "compiler" : nil, spec.tools.jupyter ? "jupyter" : nil].compactMap { $0 }
            if !toolNames.isEmpty { graph.add(.tools, toolNames.joined(separator: ", ")) }
            graph.add(.config, spec.config.tags.joined(separator: ", "))
        }

        /// CUDA is in the catalog; the driver floor is at least CUDA's minor-version minimum;
        /// forward compatibility follows the cuda-compat package.
        mutating func checkCUDAAndDriver() {
            if let cuda = spec.cuda, cudaRelease == nil {
                let known = catalog.cuda.map { "\($0.version)" }.joined(separator: ", ")
                conflicts.append("CUDA \(cuda.version) (\(spec.whereIs("cuda.version"))) is not in the catalog; known: \(known)")
            }
            if let cudaRelease, let cuda = spec.cuda {
                let floor = spec.driver.minimum ?? cudaRelease.minorVersionMinimum
                graph.add(.driver, "≥ \(floor)")
                graph.connect(.cuda, to: .driver, "≥ \(cudaRelease.minorVersionMinimum)")
                driverFloor = floor
                if let asked = spec.driver.minimum, asked < cudaRelease.minorVersionMinimum {
                    conflicts.append(
                        "the driver floor \(asked) (\(spec.whereIs("driver.minimum"))) is below \(cudaRelease.minorVersionMinimum), "
                            + "the oldest driver that runs CUDA \(cuda.version) (minor-version compatibility); raise it or leave it out")
                }
                explanations.append(Explanation(
                    component: .driver, choice: "≥ \(floor)",
                    reason: spec.driver.minimum.map {
                        "the spec asks for at least \($0), which CUDA \(cuda.version) accepts (minimum \(cudaRelease.minorVersionMinimum))"
                    } ?? "CUDA \(cuda.version) runs on drivers from \(cudaRelease.minorVersionMinimum) (minor-version compatibility); its own driver is \(cudaRelease.toolkitDriver)",
                    source: cudaRelease.source))
                explainForwardCompatibility(cuda: cuda, release: cudaRelease)
                explanations.append(Explanation(
                    component: .cuda, choice: "\(cuda.version) \(cuda.flavour.rawValue)",
                    reason: "pinned by the spec (\(spec.whereIs("cuda.version")))", source: cudaRelease.source))
            } else if let asked = spec.driver.minimum {
                graph.add(.driver, "≥ \(asked)")
            }
            if let python = spec.python { graph.connect(.python, to: .base, "Debian package python\(python.version.majorMinor)") }
        }

        /// Forward compatibility adds only the branches older than the MVC minimum (newer ones
        /// run the image through minor-version compatibility anyway).
        private mutating func explainForwardCompatibility(cuda: CUDAComponent, release cudaRelease: CUDARelease) {
            let olderBranches = cudaRelease.forwardBranches.filter { $0 < cudaRelease.minorVersionMinimum.branch }
            let branches = ImageResolver.list(olderBranches.map(String.init))
            let plural = olderBranches.count == 1 ? "branch \(branches)" : "branches \(branches)"
            if let package = ImageResolver.cudaCompatPackage(resolver.aptRequests(spec), cuda: cuda.version) {
                explanations.append(Explanation(
                    component: .driver, choice: "forward compatibility" + (olderBranches.isEmpty ? "" : " on \(plural)"),
                    reason: "the spec installs \(package), NVIDIA's cuda-compat libraries, so NVIDIA_REQUIRE_CUDA lists the "
                        + "forward-compatible branches (\(ImageResolver.list(cudaRelease.forwardBranches.map(String.init)))) after "
                        + "cuda>=\(cuda.version.majorMinor): on datacenter GPUs their drivers run CUDA \(cuda.version)",
                    source: cudaRelease.source))
            } else if !olderBranches.isEmpty {
                explanations.append(Explanation(
                    component: .driver, choice: "no forward compatibility",
                    reason: "no component ships NVIDIA's cuda-compat libraries (the cuda-compat-\(cuda.version.major)-\(cuda.version.minor) "
                        + "package), without which a driver of \(plural), older than \(cudaRelease.minorVersionMinimum), "
                        + "fails at the first CUDA call; so NVIDIA_REQUIRE_CUDA is cuda>=\(cuda.version.majorMinor) alone, "
                        + "with no brand=…,driver>=N clause, and `imagegen check-host` refuses such a driver",
                    source: cudaRelease.source))
            }
        }

        /// cuDNN has a build for the spec's CUDA; NCCL hangs below CUDA.
        mutating func checkCUDNN() {
            if let cudnn = spec.cudnn {
                graph.connect(.cudnn, to: .cuda, "CUDA 12.x builds")
                if let cuda = spec.cuda {
                    if let support = catalog.cudnnSupport(cudnn.version, cudaMajor: cuda.version.major) {
                        if !support.cuda.contains(cuda.version) {
                            conflicts.append(
                                "cuDNN \(cudnn.version) (\(spec.whereIs("cudnn.version"))) supports CUDA \(support.cuda), "
                                    + "but the spec pins CUDA \(cuda.version) (\(spec.whereIs("cuda.version")))")
                        }
                        explanations.append(Explanation(
                            component: .cudnn, choice: "\(cudnn.version)",
                            reason: "cuDNN \(cudnn.version.major) for CUDA \(cuda.version.major).x supports CUDA \(support.cuda)",
                            source: support.source))
                    } else {
                        conflicts.append(
                            "cuDNN \(cudnn.version) (\(spec.whereIs("cudnn.version"))) has no build for CUDA \(cuda.version.major).x "
                                + "(\(spec.whereIs("cuda.version")))")
                    }
                }
            }
            if spec.nccl != nil { graph.connect(.nccl, to: .cuda, "CUDA \(spec.cuda.map { "\($0.version.major)" } ?? "?").x wheel") }
        }

        /// torch against everything: a release, its Python, its CUDA build and that build's
        /// library pins, its platforms, its companions.
        mutating func checkTorch() {
            guard let torch = spec.torch else { return }
            graph.connect(.torch, to: .python, "a cp wheel")
            graph.connect(.torch, to: .cuda, "a CUDA build")
            graph.connect(.torch, to: .cudnn, "the wheel's cuDNN pin")
            graph.connect(.torch, to: .nccl, "the wheel's NCCL pin")
            torchRelease = torchChoice?.release
            if let problem = torchChoice?.problem { conflicts.append(problem) }
            if let explanation = torchChoice?.explanation { explanations.append(explanation) }
            guard let release = torchRelease else { return }
            if let python = spec.python, !release.python.contains(where: { $0.majorMinor == python.version.majorMinor }) {
                conflicts.append(
                    "torch \(release.version) has wheels for Python \(ImageResolver.list(release.python.map { "\($0)" })), "
                        + "but the spec asks for Python \(python.version) (\(spec.whereIs("python.version")))")
            } else if let python = spec.python {
                explanations.append(Explanation(
                    component: .python, choice: "\(python.version)",
                    reason: "torch \(release.version) has cp\(python.version.cpythonTag.dropFirst(2)) wheels (Python \(ImageResolver.list(release.python.map { "\($0)" })))",
                    source: release.source))
            }
            if let cuda = spec.cuda {
                if let build = release.build(for: cuda.version) {
                    torchBuild = build
                    checkTorchBuild(build, of: release, torch: torch)
                } else {
                    conflicts.append(
                        "torch \(release.version) requires CUDA \(ImageResolver.list(release.builds.map { "\($0.cuda)" }, last: "or")), "
                            + "but the spec pins CUDA \(cuda.version) (\(spec.whereIs("cuda.version")))")
                }
                checkTorchPlatforms(release)
            }
            for companion in torch.companions where release.companions[companion] == nil {
                conflicts.append("the catalog lists no \(companion) for torch \(release.version) (\(spec.whereIs("torch.with")))")
            }
        }

        /// The CUDA build chosen: explained; the cuDNN and NCCL the spec pins must be the wheel's;
        /// only the default index's build is locked.
        private mutating func checkTorchBuild(_ build: TorchBuild, of release: TorchRelease, torch: TorchComponent) {
            explanations.append(Explanation(
                component: .torch, choice: "\(release.version) (CUDA \(build.cuda) build\(build.isDefault ? ", the default wheel" : ""))",
                reason: (torch.series.map { "the spec follows the \($0) series" } ?? "pinned by the spec")
                    + " (\(spec.whereIs("torch.version"))); torch \(release.version) has a CUDA \(build.cuda) build"
                    + (build.experimental ? " (experimental)" : ""),
                source: build.source))
            checkPin(.cudnn, "cuDNN", wheel: "nvidia-cudnn-cu\(build.cuda.major)", spec: spec.cudnn.map { "\($0.version)" },
                     wheelPin: "\(build.cudnn)", same: spec.cudnn?.version == build.cudnn, release: release, build: build)
            checkPin(.nccl, "NCCL", wheel: "nvidia-nccl-cu\(build.cuda.major)", spec: spec.nccl.map { "\($0.version)" },
                     wheelPin: "\(build.nccl)", same: spec.nccl?.version == build.nccl, release: release, build: build)
            if !build.isDefault {
                conflicts.append(
                    "torch \(release.version) for CUDA \(build.cuda) is not the wheel on the default package index "
                        + "(that is the CUDA \(release.defaultBuild.map { "\($0.cuda)" } ?? "?") build); imagegen locks default wheels only")
            }
        }

        /// A library the spec pins must be the one the torch wheel pins.
        private mutating func checkPin(
            _ kind: ComponentKind, _ name: String, wheel: String, spec pinned: String?, wheelPin: String, same: Bool, release: TorchRelease,
            build: TorchBuild
        ) {
            guard let pinned else { return }
            if !same {
                conflicts.append(
                    "\(name) \(pinned) (\(spec.whereIs("\(kind.rawValue).version"))) does not match the torch \(release.version) "
                        + "CUDA \(build.cuda) wheel, which pins \(name) \(wheelPin)")
            } else {
                explanations.append(Explanation(
                    component: kind, choice: pinned, reason: "the torch \(release.version) CUDA \(build.cuda) wheel pins \(wheel)==\(wheelPin)",
                    source: build.source))
            }
        }

        /// Every platform the spec builds has CUDA wheels of this release.
        private mutating func checkTorchPlatforms(_ release: TorchRelease) {
            let machines = release.cudaMachines
            for platform in spec.platformNames {
                let machine = ImageSpec.machine(of: ImageSpec.architecture(of: platform))
                guard !machines.contains(machine) else { continue }
                let first = catalog.torch.filter { $0.cudaMachines.contains(machine) }.map(\.version).min()
                conflicts.append(
                    "torch \(release.version) has no CUDA wheels for \(platform) (\(spec.whereIs(spec.platforms == nil ? "base" : "platforms"))): "
                        + (release.wheels == nil
                            ? "the catalog's facts for it are for x86_64 alone"
                            : "its \(machine) wheel on the index asks for no CUDA libraries there")
                        + (first.map { "; the first release with CUDA wheels for \(platform) in the catalog is \($0)" } ?? "; no release in the catalog has them"))
            }
        }

        /// Pinned CUDA wheels: the component's own, of its minor release.
        mutating func checkCUDAPins() {
            guard let cuda = spec.cuda, let pins = cuda.pins else { return }
            for (name, version) in pins.sorted(by: { $0.key < $1.key }) {
                let place = spec.whereIs("cuda.pins.\(name)")
                if !cuda.wheelNames.contains(name) {
                    conflicts.append(
                        "cuda.pins names \(name) (\(place)), which the CUDA \(cuda.version) \(cuda.flavour.rawValue) component does not "
                            + "install; it pins \(ImageResolver.list(cuda.wheelNames, last: "or"))")
                } else if Array(version.release.prefix(2)) != [cuda.version.major, cuda.version.minor] {
                    conflicts.append(
                        "cuda.pins: \(name) \(version) (\(place)) is not a CUDA \(cuda.version.majorMinor) wheel "
                            + "(\(spec.whereIs("cuda.version"))); pin a \(cuda.version.majorMinor).x version")
                }
            }
        }

        /// A minimal base names its own packages.
        mutating func checkMinimalBase() {
            if spec.base.minimal == true, spec.base.packages.isEmpty {
                conflicts.append(
                    "base.minimal (\(spec.whereIs("base.minimal"))) leaves out Debian's base set, so base.packages must name what the "
                        + "image's root needs, at least libc6")
            }
        }

        /// One copy of each CUDA library: not a Debian package beside the component's wheel.
        mutating func checkLibrariesShippedOnce() {
            let specFile = "Images/\(spec.name).yaml"
            for library in catalog.systemLibraries where spec.base.packages.contains(library.package) {
                let place = spec.locations["base.packages.\(library.package)"].map { "\($0)" } ?? specFile
                let major = spec.cuda?.version.major ?? 12
                switch library.library {
                case "NCCL":
                    guard let nccl = spec.nccl else { continue }
                    conflicts.append(
                        "NCCL would be shipped twice: the Debian package \(library.package) (base.packages, \(place)) and the wheel "
                            + "nvidia-nccl-cu\(major) \(nccl.version) (\(spec.whereIs("nccl.version"))); keep one")
                case "cuDNN":
                    guard let cudnn = spec.cudnn else { continue }
                    conflicts.append(
                        "cuDNN would be shipped twice: the Debian package \(library.package) (base.packages, \(place)) and the wheel "
                            + "nvidia-cudnn-cu\(major) \(cudnn.version) (\(spec.whereIs("cudnn.version"))); keep one")
                case "CUDA":
                    guard let cuda = spec.cuda else { continue }
                    conflicts.append(
                        "CUDA libraries would be shipped twice: the Debian package \(library.package) (base.packages, \(place)) and "
                            + "NVIDIA's CUDA \(cuda.version) wheels (\(spec.whereIs("cuda.version"))); keep one")
                default:
                    continue
                }
            }
        }

        /// packages does not list what a component already provides.
        mutating func checkPackagesOverlap() {
            for requirement in spec.packages.requirements {
                let project = SpecLoader.projectName(requirement)
                let owner: ComponentKind? = project.hasPrefix("nvidia-nccl") ? .nccl : project.hasPrefix("nvidia-cudnn") ? .cudnn
                    : project == "torch" ? .torch : nil
                if let owner, graph.node(owner) != nil {
                    conflicts.append(
                        "packages lists \(requirement) (\(spec.whereIs("packages.\(project)"))), which the \(owner) component already "
                            + "provides; remove it from packages")
                }
            }
        }

        /// The edges of packages, tools and config.
        mutating func connectTools() {
            if graph.node(.packages) != nil { graph.connect(.packages, to: .python, "the venv's Python") }
            if spec.tools.compiler {
                graph.connect(.tools, to: .base, "gcc from Debian")
                if spec.python != nil { graph.connect(.tools, to: .python, "the Python headers") }
            }
            if spec.tools.ssh { graph.connect(.tools, to: .base, "openssh-server from Debian") }
            if spec.tools.jupyter { graph.connect(.tools, to: .python, "jupyterlab in the venv") }
            if spec.config.user != nil { graph.connect(.config, to: .base, "passwd and group entries") }
        }

        /// The resolved image, or every conflict (a cycle in the graph first).
        func finish() throws -> ResolvedImage {
            let order: [ComponentKind]
            do {
                order = try graph.validate()
            } catch let error as GraphError {
                throw ConflictError(image: spec.name, conflicts: ["\(error)"] + conflicts)
            }
            guard conflicts.isEmpty else { throw ConflictError(image: spec.name, conflicts: conflicts) }
            let apt = resolver.aptRequests(spec)
            let carriesCUDACompat = spec.cuda.map { ImageResolver.cudaCompatPackage(apt, cuda: $0.version) != nil } ?? false
            return ResolvedImage(
                spec: spec, graph: graph, order: order, explanations: explanations, torch: torchRelease, torchBuild: torchBuild,
                cuda: cudaRelease, driverFloor: driverFloor, carriesCUDACompat: carriesCUDACompat, aptRequests: apt,
                pipRequirements: resolver.pipRequirements(spec, torch: torchRelease, build: torchBuild),
                environment: resolver.environment(spec, cuda: cudaRelease, carriesCUDACompat: carriesCUDACompat))
        }
    }

    /// What `chooseTorch` found: the release, why (for a series), or the problem.
    typealias TorchChoice = (release: TorchRelease?, explanation: Explanation?, problem: String?)

    /// The release a spec's torch resolves to, the sentence that says why when it follows a
    /// series, or the problem when there is none.
    func chooseTorch(_ torch: TorchComponent, spec: ImageSpec, lockedTorch: PEP440Version?) -> TorchChoice {
        let place = spec.whereIs("torch.version")
        guard let series = torch.series else {
            let release = catalog.torch(for: torch)
            return (release, nil, release == nil ? catalog.unknownTorch(torch, at: place) : nil)
        }
        guard let newest = catalog.newestTorch(in: series) else { return (nil, nil, catalog.unknownTorch(torch, at: place)) }
        let known = catalog.torch.filter { series.contains($0.version) }.map { "\($0.version)" }
        guard let locked = lockedTorch, locked.publicVersion != newest.version.publicVersion else {
            return (newest, Explanation(
                component: .torch, choice: "\(series) series → \(newest.version), the newest \(series) release in the catalog",
                reason: "the spec follows the \(series) series (\(place)); the catalog's \(series) releases: \(Self.list(known))",
                source: newest.source), nil)
        }
        guard let release = catalog.torch.first(where: { series.contains($0.version) && $0.version.publicVersion == locked.publicVersion }) else {
            return (nil, nil,
                "the lock holds torch \(locked), which is not a \(series) release in the catalog (\(Self.list(known))); the spec "
                    + "follows the \(series) series (\(place)); run `imagegen update \(spec.name)`")
        }
        return (release, Explanation(
            component: .torch, choice: "\(series) series → \(release.version), the release the lock holds",
            reason: "the spec follows the \(series) series (\(place)); the newest \(series) release in the catalog is "
                + "\(newest.version), which `imagegen update \(spec.name)` moves the lock to",
            source: release.source), nil)
    }

    /// The Debian package among `requests` that holds NVIDIA's cuda-compat libraries for `cuda`:
    /// `cuda-compat-MAJOR-MINOR` of the same major and this minor or a later one (a newer
    /// forward-compatible driver runs older CUDA minors).
    static func cudaCompatPackage(_ requests: [ComponentKind: [String]], cuda: CUDAVersion) -> String? {
        let names = requests.values.joined().map { String($0.prefix { $0 != "=" }) }
        return names.sorted().first { name in
            let parts = name.split(separator: "-")
            guard parts.count == 4, parts[0] == "cuda", parts[1] == "compat", let major = Int(parts[2]), let minor = Int(parts[3]) else {
                return false
            }
            return major == cuda.major && minor >= cuda.minor
        }
    }

    func aptRequests(_ spec: ImageSpec) -> [ComponentKind: [String]] {
        // A minimal base has only what was asked for: no CA bundle either.
        var requests: [ComponentKind: [String]] = [
            .base: spec.base.minimal == true ? spec.base.packages : (["ca-certificates"] + spec.base.packages).uniqued()
        ]
        if let python = spec.python {
            requests[.python] = [python.version.debianPackage, "\(python.version.debianPackage)-venv"]
        }
        var tools: [String] = []
        if spec.tools.ssh { tools.append("openssh-server") }
        if spec.tools.compiler {
            // Inductor compiles C++ on the CPU (g++) and Triton compiles C launchers (gcc).
            tools += ["gcc", "g++", "libc6-dev"]
            if let python = spec.python { tools.append("\(python.version.debianPackage)-dev") }
        }
        if !tools.isEmpty { requests[.tools] = tools }
        return requests
    }

    func pipRequirements(_ spec: ImageSpec, torch: TorchRelease?, build: TorchBuild?) -> [ComponentKind: [String]] {
        var requirements: [ComponentKind: [String]] = [:]
        if let torch, let wanted = spec.torch {
            requirements[.torch] = ["torch==\(torch.version)"]
                + wanted.companions.compactMap { name in torch.companions[name].map { "\(name)==\($0)" } }
        }
        if let cudnn = spec.cudnn { requirements[.cudnn] = ["nvidia-cudnn-cu\(spec.cuda?.version.major ?? 12)==\(cudnn.version)"] }
        if let nccl = spec.nccl { requirements[.nccl] = ["nvidia-nccl-cu\(spec.cuda?.version.major ?? 12)==\(nccl.version)"] }
        if let cuda = spec.cuda {
            requirements[.cuda] = cuda.wheelNames.map { name in
                cuda.pins?[name].map { "\(name)==\($0)" } ?? "\(name)~=\(cuda.version.majorMinor).0"
            }
        }
        if !spec.packages.requirements.isEmpty { requirements[.packages] = spec.packages.requirements }
        if spec.tools.jupyter { requirements[.tools] = ["jupyterlab"] }
        return requirements
    }

    func environment(_ spec: ImageSpec, cuda: CUDARelease?, carriesCUDACompat: Bool) -> [String: String] {
        var env = spec.config.env
        if let cuda, let component = spec.cuda {
            env["NVIDIA_REQUIRE_CUDA"] = cuda.nvidiaRequireCUDA(brands: catalog.driverBrands, carriesCUDACompat: carriesCUDACompat)
            env["NVIDIA_VISIBLE_DEVICES"] = "all"
            env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
            env["CUDA_VERSION"] = "\(component.version)"
        }
        if let cudnn = spec.cudnn { env["CUDNN_VERSION"] = "\(cudnn.version)" }
        if let nccl = spec.nccl { env["NCCL_VERSION"] = "\(nccl.version)" }
        if spec.python != nil {
            env["PATH"] = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            env["VIRTUAL_ENV"] = "/opt/venv"
        }
        return env
    }

    /// `a, b and c` (or `a, b or c`).
    static func list(_ items: [String], last: String = "and") -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " \(last) " + items.last!  // count > 1
    }
}

extension Array where Element: Hashable {
    /// The elements in order, without repeats.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
