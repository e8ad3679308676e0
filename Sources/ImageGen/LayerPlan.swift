import Foundation
import ImageModel
import Layers
import OCI
import Rootfs

/// The layers of an image, one per component in layer order, each with the key of its inputs
/// and the recipe that makes its tree. Layers are disjoint: a tree is made from its own
/// component's artifacts only, so it never depends on the layer below it — except the dpkg
/// status, which the top deb layer must hold for every package, so deb layers' keys include
/// the debs below them.
struct LayerPlan {
    /// The locked artifacts' cached files, by SHA-256: what a step's tree is made from.
    typealias Files = [Digest: String]

    /// What making a step's tree tells the packer and the bills of materials.
    struct Made: Sendable {
        /// The files whose bytes are a wheel's deflated member, so a gzip layer can carry those
        /// streams as they are.
        var sources: [String: DeflatedSource] = [:]
        /// The declared facts of the debs unpacked, by SHA-256, read while unpacking.
        var facts: [Digest: PackageFacts] = [:]
    }

    struct Step: Sendable {
        var component: ComponentKind
        var key: Digest
        var label: String
        /// The artifacts (by SHA-256) the tree is made from: the component's own debs and
        /// wheels, the debs below a deb layer (its dpkg status, maintainer effects and
        /// bytecode read them), base-passwd where accounts are made. A layer found in a cache
        /// needs none of them.
        var inputs: Set<Digest> = []
        /// Makes the tree under the given root from the fetched `Files`.
        var makeTree: @Sendable (String, Files) throws -> Made
        /// A rough measure of the work of making and packing it, to start the longest first:
        /// the locked artifacts' bytes, a deb's counted 16 times (it is decompressed, written
        /// and deflated anew; a wheel's big members travel as they are).
        var estimatedCost: Int64 = 0
    }

    var steps: [Step] = []
    let image: ResolvedImage
    let lock: Lockfile
    let options: Builder.Options

    /// The cached file of a locked artifact.
    static func path(_ files: Files, _ digest: Digest, _ name: String) throws -> String {
        guard let path = files[digest] else {
            throw ImageGenError.invalidInput(path: name, reason: "the fetcher returned no file for \(digest)")
        }
        return path
    }

    /// The plan of `lock`'s layers. Every key is made from the lock, the spec and the host's
    /// bytecode compiler alone — no artifact is read — so a build can look its layers up in a
    /// cache before it fetches anything.
    init(image: ResolvedImage, lock: Lockfile, options: Builder.Options) throws {
        self.image = image
        self.lock = lock
        self.options = options
        let context = try Context(image: image, lock: lock, options: options)
        var lowerDebs: [LockedDeb] = []
        for kind in ComponentKind.allCases where kind != .driver && kind != .config {
            guard let step = Self.componentStep(kind, below: lowerDebs, context: context) else { continue }
            steps.append(step)
            lowerDebs += lock.debs.filter { $0.component == kind }
        }
        steps.append(Self.configStep(context: context))
    }

    /// What every step of one plan shares: the spec, the interpreters, the compiler, the accounts.
    private struct Context {
        let image: ResolvedImage
        let lock: Lockfile
        let options: Builder.Options
        /// The venv's Python, when the spec has one.
        let python: PythonVersion?
        /// The Python whose files Debian's scripts compile (the venv's, or python3.X-minimal's).
        let debianPython: PythonVersion?
        /// The host CPython that compiles them (docs/building.md, "Bytecode"); its identity is in the keys.
        let bytecode: BytecodeCompiler?
        let accounts: Accounts
        /// The packages the spec names: apt keeps them manually installed (the rest auto).
        let requested: Set<String>

        init(image: ResolvedImage, lock: Lockfile, options: Builder.Options) throws {
            self.image = image
            self.lock = lock
            self.options = options
            let spec = image.spec
            python = try ImageMetadata.venvPython(spec: spec, lock: lock)
            // Debian's Python is byte-compiled even when the spec has no venv (python3.X-minimal in the base).
            debianPython = try python ?? ImageMetadata.debianPython(lock: lock)
            bytecode = try debianPython.map { try ComponentTrees.bytecodeCompiler(python: $0, options: options) }
            // base-passwd's account masters: the config layer's account files start from them, and
            // system groups that packages add take the first free id after them.
            accounts = Accounts(
                passwdDeb: lock.debs.first { $0.name == "base-passwd" }, sshServer: lock.debs.contains { $0.name == "openssh-server" },
                sshClient: lock.debs.contains { $0.name == "openssh-client" }, user: spec.config.user)
            requested = Set(image.aptRequests.values.joined().map { String($0.prefix { $0 != "=" && $0 != ":" }) })
        }
    }

    /// The step of component `kind`, whose deb layers lie on `lowerDebs`; nil when the
    /// component has nothing to install.
    private static func componentStep(_ kind: ComponentKind, below lowerDebs: [LockedDeb], context: Context) -> Step? {
        let (lock, options, python) = (context.lock, context.options, context.python)
        let lockedDebs = lock.debs.filter { $0.component == kind }
        let lockedWheels = lock.wheels.filter { $0.component == kind }
        guard !lockedDebs.isEmpty || !lockedWheels.isEmpty || (kind == .python && python != nil) else { return nil }
        let architecture = context.image.spec.base.architecture
        var inputs = Set(lockedDebs.map(\.sha256) + lockedWheels.map(\.sha256))
        // A deb layer's dpkg status lists the packages below it too: they are inputs, and their hashes are in the key.
        if !lockedDebs.isEmpty { inputs.formUnion(lowerDebs.map(\.sha256)) }
        if kind == .tools, let passwdDeb = context.accounts.passwdDeb, context.accounts.sshClient { inputs.insert(passwdDeb.sha256) }
        let key = LayerKey.component(
            kind, architecture: architecture, python: python, options: options, debs: lockedDebs,
            lower: lockedDebs.isEmpty ? [] : lock.debs.filter { $0.component < kind }, wheels: lockedWheels,
            bytecode: context.bytecode)
        let cost = lockedDebs.reduce(Int64(0)) { $0 + 16 * $1.size } + lockedWheels.reduce(Int64(0)) { $0 + $1.size }
        let make = TreeRecipe(
            component: kind, debs: lockedDebs, lower: lowerDebs, wheels: lockedWheels, architecture: architecture, context: context)
        return Step(
            component: kind, key: key, label: context.image.graph.node(kind)?.label ?? kind.rawValue, inputs: inputs,
            makeTree: make.run, estimatedCost: cost)
    }

    /// How one component's tree is made from the fetched files: debs unpacked (with the dpkg
    /// status of those below), fixups, the venv, wheels, maintainer-script effects, bytecode.
    private struct TreeRecipe: Sendable {
        let component: ComponentKind
        let debs: [LockedDeb]
        let lower: [LockedDeb]
        let wheels: [LockedWheel]
        let architecture: String
        let python: PythonVersion?
        let debianPython: PythonVersion?
        let bytecode: BytecodeCompiler?
        let accounts: Accounts
        let requested: Set<String>
        /// A timestamp .pyc holds its source's time: the time the layer gives every file.
        let pycTime: Int64

        init(component: ComponentKind, debs: [LockedDeb], lower: [LockedDeb], wheels: [LockedWheel], architecture: String, context: Context) {
            self.component = component
            self.debs = debs
            self.lower = lower
            self.wheels = wheels
            self.architecture = architecture
            python = context.python
            debianPython = context.debianPython
            bytecode = context.bytecode
            accounts = context.accounts
            requested = context.requested
            pycTime = context.options.fileTime.seconds
        }

        func run(root: String, files: Files) throws -> Made {
            let debs = try self.debs.map { try LayerPlan.path(files, $0.sha256, $0.fileName) }
            // Only a deb layer reads the debs below it.
            let lowerPaths = debs.isEmpty ? [] : try lower.map { try LayerPlan.path(files, $0.sha256, $0.fileName) }
            let wheels = try self.wheels.map { try LayerPlan.path(files, $0.sha256, $0.fileName) }
            var made = Made()
            if !debs.isEmpty {
                let facts = try ComponentTrees.unpackDebs(debs, into: root, statusFrom: lowerPaths + debs)
                for (deb, path) in zip(self.debs, debs) { made.facts[deb.sha256] = facts[path] }
            }
            if component == .base { try ComponentTrees.baseFixups(root) }
            if component == .python, let python { try ComponentTrees.venvSkeleton(root, python: python) }
            if !wheels.isEmpty, let python, let bytecode {
                made.sources = try ComponentTrees.installWheels(wheels, into: root, python: python, compiler: bytecode, mtime: pycTime)
                try ComponentTrees.ldSoConf(root, component: component.rawValue, python: python)
            }
            if component == .tools { try ComponentTrees.toolsFixups(root, sshGroupID: try accounts.sshGroup(files)?.gid) }
            if !debs.isEmpty {
                try ComponentTrees.maintainerEffects(root, own: debs, lower: lowerPaths, architecture: architecture, requested: requested)
            }
            if !debs.isEmpty, let debianPython, let bytecode {
                try ComponentTrees.compileDebs(debs, lower: lowerPaths, into: root, python: debianPython, compiler: bytecode, mtime: pycTime)
            }
            return made
        }
    }

    /// The config layer: accounts, the entrypoint, cuda-check, the working directory. Its key
    /// names what the account files are made from (base-passwd's hash, the SSH packages, the
    /// user) rather than their text, which only base-passwd's file gives.
    private static func configStep(context: Context) -> Step {
        let spec = context.image.spec
        let user = spec.config.user.map { (name: $0.name, uid: $0.uid, gid: $0.gid) }
        var entries: [LayerEntry] = [
            .directory("etc"),
            .directory("usr"), .directory("usr/local"), .directory("usr/local/bin"),
            .file("usr/local/bin/imagegen-entrypoint", bytes: Array(GeneratedFiles.entrypoint.utf8), mode: 0o755),
        ]
        if CUDACheck.isInstalled(in: spec) {
            entries.append(.file(String(CUDACheck.path.dropFirst()), bytes: CUDACheck.program, mode: 0o755))
        }
        if let workdir = spec.config.workdir {
            var parts: [String] = []
            for part in workdir.split(separator: "/") {
                parts.append(String(part))
                let path = parts.joined(separator: "/")
                if !entries.contains(where: { $0.header.path == path }) {
                    let owner = path == workdir.dropFirst() ? user : nil
                    entries.append(.directory(path, uid: UInt32(owner?.uid ?? 0), gid: UInt32(owner?.gid ?? 0)))
                }
            }
        }
        if let user {
            entries.append(.directory("home"))
            entries.append(.directory("home/\(user.name)", uid: UInt32(user.uid), gid: UInt32(user.gid)))
        }
        let configEntries = entries
        let accounts = context.accounts
        let key = LayerKey.config(
            architecture: spec.base.architecture, options: context.options, accounts: accounts, entries: configEntries)
        let mtime = context.options.fileTime.seconds
        return Step(component: .config, key: key, label: "accounts, entrypoint, workdir", inputs: Set(accounts.passwdDeb.map { [$0.sha256] } ?? [])) { root, files in
            try ComponentTrees.write(configEntries + accounts.entries(files), into: root, mtime: mtime)
            return Made()
        }
    }

    /// How the image's account files are made: base-passwd's masters (a built-in root-only
    /// pair when the lock has no base-passwd) plus the accounts openssh-server, openssh-client
    /// and the spec's user add. The config layer holds the files whole, so lower layers need
    /// not know about each other; base-passwd's file is read only when a tree is made.
    struct Accounts: Sendable {
        var passwdDeb: LockedDeb?
        var sshServer: Bool
        var sshClient: Bool
        var user: UserSpec?

        /// What the account files are made from, for the config layer's key.
        var identity: String {
            [passwdDeb?.sha256.description ?? "-", "ssh-server=\(sshServer)", "ssh-client=\(sshClient)",
             user.map { "user=\($0.name):\($0.uid):\($0.gid)" } ?? "user=-"].joined(separator: " ")
        }

        /// `/etc/passwd` and `/etc/group` as base-passwd ships them.
        func masters(_ files: Files) throws -> (passwd: String, group: String) {
            guard let passwdDeb else { return ("root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n") }
            let masters = try ComponentTrees.baseAccounts(deb: try LayerPlan.path(files, passwdDeb.sha256, passwdDeb.fileName))
            return (masters.0, masters.1)
        }

        /// openssh-client's `_ssh` group, at the first free id after base-passwd's groups.
        func sshGroup(_ files: Files) throws -> (accounts: SystemFixups.Accounts, gid: UInt32)? {
            guard sshClient else { return nil }
            return SystemFixups.opensshClientAccounts(existingGroup: try masters(files).group)
        }

        /// The four account files.
        func entries(_ files: Files) throws -> [LayerEntry] {
            let masters = try masters(files)
            var extra: [SystemFixups.Accounts] = []
            if sshServer { extra.append(SystemFixups.opensshServerAccounts(existingPasswd: masters.passwd)) }
            if let group = try sshGroup(files) { extra.append(group.accounts) }
            if let user { extra.append(SystemFixups.userAccounts(name: user.name, uid: user.uid, gid: user.gid)) }
            let accounts = SystemFixups.accounts(passwdMaster: masters.passwd, groupMaster: masters.group, extra: extra)
            func text(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }
            return [
                .file("etc/passwd", bytes: text(accounts.passwd)),
                .file("etc/group", bytes: text(accounts.group)),
                .file("etc/shadow", bytes: text(accounts.shadow), mode: 0o640, gid: SystemFixups.shadowGroupID),
                .file("etc/gshadow", bytes: text(accounts.gshadow), mode: 0o640, gid: SystemFixups.shadowGroupID),
            ]
        }
    }

    /// Manifest annotations.
    var annotations: [String: String] { labels }

    /// Labels (and manifest annotations): see ``ImageMetadata/labels(image:lock:created:revision:sourceURL:)``.
    var labels: [String: String] {
        ImageMetadata.labels(image: image, lock: lock, created: options.created(lock), revision: options.revision, sourceURL: options.sourceURL)
    }

    /// The image configuration for the packed layers.
    func configuration(layers: [(Step, PackedLayer)]) -> ImageConfiguration {
        let spec = image.spec
        var config = ContainerConfig()
        config.env = image.environment.map { "\($0.key)=\($0.value)" }.sorted()
        config.entrypoint = ImageMetadata.entrypoint(spec)
        config.cmd = spec.config.cmd
        config.workingDir = spec.config.workdir
        config.user = spec.config.user.map(\.name)
        config.labels = labels
        if !spec.config.ports.isEmpty {
            config.exposedPorts = Dictionary(uniqueKeysWithValues: spec.config.ports.map { ("\($0)/tcp", EmptyObject()) })
        }
        // The lock's date (or SOURCE_DATE_EPOCH): the config only, never the layers' files.
        let created = options.created(lock).rfc3339
        return ImageConfiguration(
            platform: Platform(architecture: spec.base.architecture, os: "linux"), created: created, config: config,
            diffIDs: layers.map(\.1.diffID),
            history: layers.map { step, _ in
                History(created: created, createdBy: "imagegen build: \(step.component.rawValue) (\(step.label))", comment: "\(spec.name)")
            })
    }
}
