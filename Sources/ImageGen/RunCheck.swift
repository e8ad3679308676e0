import Glibc
import Foundation
import ImageModel
import Layers
import OCI
import Synchronization
import SystemSupport

/// `imagegen run-check`: runs an image's `cuda-check` (or another command) on this host's GPUs
/// the way the NVIDIA container runtime would — the image unpacked into a temporary root, the
/// host's `/dev/nvidia*` nodes bind-mounted into it, the driver's user-space libraries copied
/// into its library folder and its linker cache refreshed, `/proc` and `/sys` mounted — after
/// checking the host driver against the image's `NVIDIA_REQUIRE_CUDA`. Everything it mounted
/// is unmounted and the root deleted afterwards, also when the command fails.
public struct RunCheck {
    /// What to run and where.
    public struct Options: Sendable {
        /// The image: a layout directory or an archive.
        public var image: String
        /// The host driver version; nil: ask the host (``HostDriver/version()``).
        public var driver: DriverVersion?
        /// The command to run in the image (default: cuda-check).
        public var command: [String] = [CUDACheck.path]
        /// Where the temporary root goes (any spelling: `/tmp/`, `/tmp//x`, relative; see ``HostPath``).
        public var workDirectory = NSTemporaryDirectory()
        /// The catalog that knows each CUDA release's driver needs.
        public var catalog: Catalog
        /// The host's `/dev` (tests point it elsewhere).
        public var devices = "/dev"
        /// `false`: run without the driver — no NVIDIA device nodes, no driver libraries, no
        /// driver check — as a container started without `--gpus` would.
        public var injectDriver = true
        /// `NAME=VALUE` lines added to (or replacing those of) the image's environment.
        public var environment: [String] = []

        /// Options with defaults.
        public init(image: String, catalog: Catalog) {
            self.image = image
            self.catalog = catalog
        }
    }

    /// Why the image can run here, before anything is unpacked.
    public struct Admission: Sendable {
        /// The host driver.
        public var driver: DriverVersion
        /// The CUDA version the image requires, when it says.
        public var cuda: CUDAVersion?
        /// The catalog's verdict, when it knows the CUDA release.
        public var support: HostSupport?
        /// The line to print.
        public var summary: String
    }

    let options: Options
    let progress: @Sendable (String) -> Void

    /// A run-check; `progress` gets one line per step (stderr in the CLI).
    public init(options: Options, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.options = options
        self.progress = progress
    }

    // MARK: - The image

    /// The image's manifest and configuration for `architecture` (default: this machine's): the
    /// first manifest `index.json` names, or — for a multi-platform image — that platform's
    /// manifest in the image index it names. Refuses an image with no manifest for it, naming
    /// the platforms the image has: run-check runs programs of the image on this machine.
    public static func read(_ source: any ImageSource, architecture: String = Platform.hostArchitecture) throws -> (Manifest, ImageConfiguration) {
        let manifests = try PlatformManifest.all(in: source)
        guard let chosen = manifests.count == 1 ? manifests.first : manifests.first(where: { $0.platform == "linux/\(architecture)" }) else {
            throw ImageGenError.invalidInput(
                path: source.path,
                reason: "the image has no linux/\(architecture) manifest (it has \(manifests.map(\.platform).joined(separator: ", "))); run-check runs "
                    + "the image on this machine, so it takes this machine's platform only")
        }
        let (manifest, config) = (chosen.manifest, chosen.config)
        guard config.architecture == architecture, config.os == "linux" else {
            throw ImageGenError.invalidInput(
                path: source.path,
                reason: "the image is for \(config.os)/\(config.architecture), not linux/\(architecture); run-check runs the image on this "
                    + "machine (scripts/qemu-check.sh runs an arm64 image's Python under emulation)")
        }
        return (manifest, config)
    }

    /// The CUDA version in `NVIDIA_REQUIRE_CUDA` (`cuda>=12.6 brand=tesla,driver>=470,…`), nil
    /// when the image does not set it.
    public static func requiredCUDA(environment: [String]) throws -> CUDAVersion? {
        guard let line = environment.first(where: { $0.hasPrefix("NVIDIA_REQUIRE_CUDA=") }) else { return nil }
        let value = line.dropFirst("NVIDIA_REQUIRE_CUDA=".count)
        guard let token = value.split(separator: " ").first(where: { $0.hasPrefix("cuda>=") }) else {
            throw ImageGenError.imageSetting(name: "NVIDIA_REQUIRE_CUDA", value: String(value), reason: "it has no cuda>=MAJOR.MINOR constraint")
        }
        do {
            return try CUDAVersion(parsing: String(token.dropFirst("cuda>=".count)))
        } catch {
            throw ImageGenError.imageSetting(name: "NVIDIA_REQUIRE_CUDA", value: String(value), reason: "\(error)")
        }
    }

    /// Whether `driver` runs an image that requires `cuda`: the catalog's check-host verdict.
    /// Throws, with the reason, when it cannot (forward compatibility counts as cannot: the
    /// root that run-check makes provides the host's driver libraries, never cuda-compat's).
    public static func admit(cuda: CUDAVersion?, driver: DriverVersion, catalog: Catalog) throws -> Admission {
        guard let cuda else {
            return Admission(driver: driver, summary: "driver \(driver); the image sets no NVIDIA_REQUIRE_CUDA, so any driver will do")
        }
        guard let release = catalog.cuda(cuda) else {
            return Admission(
                driver: driver, cuda: cuda,
                summary: "driver \(driver); CUDA \(cuda) is not in imagegen's catalog, so the driver was not checked against it")
        }
        let support = release.support(on: driver, carriesCUDACompat: false)
        switch support.level {
        case .full, .minorVersionCompatibility:
            return Admission(driver: driver, cuda: cuda, support: support, summary: "NVIDIA_REQUIRE_CUDA cuda>=\(cuda): \(support.level.rawValue): \(support.reason)")
        case .forwardCompatibility, .cannotRun:
            throw ImageGenError.hostDriver(reason: "this host cannot run the image (\(support.level.rawValue)): \(support.reason)")
        }
    }

    // MARK: - Running

    /// Checks, unpacks, injects the driver, runs the command in a chroot, cleans up; returns the
    /// command's exit status (its output goes to this process's stdout and stderr).
    public func run() throws -> Int32 {
        let source = try openImage(options.image)
        let (manifest, config) = try Self.read(source)
        let environment = (config.config?.env ?? []) + options.environment
        if options.injectDriver {
            let driver = try options.driver ?? HostDriver.version()
            let admission = try Self.admit(cuda: try Self.requiredCUDA(environment: environment), driver: driver, catalog: options.catalog)
            progress(admission.summary)
        } else {
            progress("no driver: the image runs without the host's NVIDIA devices and libraries")
        }
        guard getuid() == 0 else {
            throw ImageGenError.needsRoot(
                operation: "run-check", reason: "it mounts device nodes, /proc and /sys into the image's root and chroots into it")
        }

        let work = HostPath(options.workDirectory).appending("imagegen-run-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let root = work.appending("root")
        try FileManager.default.createDirectory(atPath: root.path, withIntermediateDirectories: true)
        var mounts = MountTable()
        defer {
            let left = mounts.unmountAll(under: work)
            if left.isEmpty {
                try? FileManager.default.removeItem(atPath: work.path)
            } else {
                // Never delete through a mount: that would reach the host's files.
                progress("could not unmount \(left.joined(separator: ", ")); left \(work) in place")
            }
        }

        try unpack(source, manifest: manifest, into: root.path, scratch: work.path)
        let command = options.command
        guard let program = command.first else { throw ImageGenError.invalidOption(name: "command", value: "", expected: "a command") }
        var info = stat()
        if program.hasPrefix("/"), lstat(root.appending(program).path, &info) != 0 {
            throw ImageGenError.invalidInput(
                path: options.image, reason: "the image has no \(program) (imagegen puts cuda-check in images with the CUDA and Python components)")
        }
        // Everything written or mounted below goes through folders of the image: none may be a
        // link, which could point out of the root (a root process would follow it).
        for folder in ["dev", "proc", "sys", "usr/lib/" + Self.multiarch(config.architecture)] {
            try Self.makeRealDirectory(folder, in: root)
        }
        let libraryDirectory = root.appending("usr/lib/" + Self.multiarch(config.architecture)).path
        let nodes = try bindDevices(into: root, mounts: &mounts)
        if options.injectDriver {
            let injected = try injectLibraries(into: libraryDirectory)
            progress("driver: device nodes: \(nodes.isEmpty ? "none" : nodes.joined(separator: " "))")
            progress("driver: libraries copied to /usr/lib/\(Self.multiarch(config.architecture)): \(injected.isEmpty ? "none" : injected.joined(separator: " "))")
        }
        try mounts.mount("proc", at: root.appending("proc"), type: "proc")
        do { try mounts.mount("sysfs", at: root.appending("sys"), type: "sysfs", flags: UInt(MS_RDONLY)) } catch {
            progress("note: /sys not mounted (\(error)); CUDA runs without it")
        }
        try refreshLinkerCache(root: root.path)

        progress("running \(command.joined(separator: " ")) in \(options.image)")
        return try chrootRun(root: root.path, command: command, environment: environment)
    }

    /// Makes `relative` below `root` a directory, each component checked with lstat: a missing
    /// one is made, a link or a file is refused.
    static func makeRealDirectory(_ relative: String, in root: HostPath) throws {
        var inImage: [String] = []
        for component in HostPath.components(of: relative) {
            inImage.append(component)
            let path = root.appending(inImage).path
            var info = stat()
            if lstat(path, &info) != 0 {
                guard mkdir(path, 0o755) == 0 else {
                    throw ImageGenError.output(path: path, reason: "cannot make the folder: \(String(cString: strerror(errno)))")
                }
            } else if info.st_mode & S_IFMT != S_IFDIR {
                throw ImageGenError.invalidInput(
                    path: "/" + relative, reason: "in the image, /\(inImage.joined(separator: "/")) is not a folder (a link?); "
                        + "run-check does not write or mount through it")
            }
        }
    }

    /// `x86_64-linux-gnu` for amd64, `aarch64-linux-gnu` for arm64.
    static func multiarch(_ architecture: String) -> String {
        architecture == "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu"
    }

    /// Applies the layers in order (libarchive reads gzip, zstd or plain tar).
    func unpack(_ source: any ImageSource, manifest: Manifest, into root: String, scratch: String) throws {
        for (number, layer) in manifest.layers.enumerated() {
            let path: String
            if let layout = source as? LayoutDirectory {
                path = layout.blobPath(layer.digest)
            } else {
                path = "\(scratch)/layer-\(number)"
                guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                    throw ImageGenError.output(path: path, reason: "cannot create")
                }
                try source.streamBlob(layer.digest) { bytes in try handle.write(contentsOf: Data(bytes)) }
                try handle.close()
            }
            let entries = try ArchiveExtractor(path: path).extract(into: root)
            if !(source is LayoutDirectory) { try? FileManager.default.removeItem(atPath: path) }
            progress("layer \(number + 1)/\(manifest.layers.count): \(entries) entries (\(ByteCount.text(layer.size)))")
        }
    }

    /// Copies the driver's libraries into `directory` of the root: each real file once, each
    /// link name as a link to it, as the NVIDIA container runtime makes them visible.
    func injectLibraries(into directory: String) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var names: [String] = []
        for path in HostDriver.libraries() {
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            let realName = HostPath(real).components.last ?? real
            let name = HostPath(path).components.last ?? path
            if !fm.fileExists(atPath: "\(directory)/\(realName)") {
                try? fm.removeItem(atPath: "\(directory)/\(realName)")
                do { try fm.copyItem(atPath: real, toPath: "\(directory)/\(realName)") } catch {
                    throw ImageGenError.output(path: "\(directory)/\(realName)", reason: "cannot copy the driver library \(real): \(error.localizedDescription)")
                }
                names.append(realName)
            }
            if name != realName, (try? fm.destinationOfSymbolicLink(atPath: "\(directory)/\(name)")) == nil {
                try? fm.removeItem(atPath: "\(directory)/\(name)")
                try fm.createSymbolicLink(atPath: "\(directory)/\(name)", withDestinationPath: realName)
            }
        }
        return names
    }

    /// Bind-mounts the host's NVIDIA device nodes, and the few standard ones a program needs,
    /// onto empty files of the same path in the root (`nvidia-caps/nvidia-cap1` in a folder of
    /// its own); returns the NVIDIA nodes' host paths.
    func bindDevices(into root: HostPath, mounts: inout MountTable) throws -> [String] {
        let fm = FileManager.default
        let devices = HostPath(options.devices)
        let nvidia = options.injectDriver ? HostDriver.deviceNames(devices: devices.path) : []
        let standard = ["null", "zero", "full", "random", "urandom", "tty"].filter { fm.fileExists(atPath: devices.appending($0).path) }
        for name in standard + nvidia {
            let node = devices.appending(name)
            let inImage = ["dev"] + HostPath.components(of: name)
            try Self.makeRealDirectory(inImage.dropLast().joined(separator: "/"), in: root)
            // The mount point: an empty file of our own, never a link the image planted.
            let target = root.appending(inImage)
            var info = stat()
            if lstat(target.path, &info) == 0, info.st_mode & S_IFMT != S_IFREG { unlink(target.path) }
            if lstat(target.path, &info) != 0, !fm.createFile(atPath: target.path, contents: nil) {
                throw ImageGenError.output(path: target.path, reason: "cannot make a mount point for \(node.path)")
            }
            try mounts.mount(node.path, at: target, flags: UInt(MS_BIND))
        }
        return nvidia.map { devices.appending($0).path }
    }

    /// Runs the image's own `ldconfig` in the root, or the host's with `-r ROOT` when the image has none.
    func refreshLinkerCache(root: String) throws {
        let own = ["/sbin/ldconfig", "/usr/sbin/ldconfig"].first { FileManager.default.isExecutableFile(atPath: root + $0) }
        let (tool, arguments) = own.map { ("/usr/sbin/chroot", [root, $0]) }
            ?? (["/sbin/ldconfig", "/usr/sbin/ldconfig"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ldconfig", ["-r", root])
        let output: ProcessOutput
        do { output = try Subprocess(tool, arguments).run() } catch {
            throw ImageGenError.tool(error)
        }
        if output.status != .exited(0) {
            progress("note: ldconfig exited \(output.status.code): \(output.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Runs `command` under `chroot(8)` with the image's environment, stdout and stderr passed through.
    ///
    /// The command gets an empty signal mask and default handlers (``Subprocess/spawn(stdin:stdout:stderr:)``)
    /// and stays in this process group, so Ctrl-C reaches it; this process passes SIGINT and
    /// SIGTERM on and stays to clean up.
    func chrootRun(root: String, command: [String], environment: [String]) throws -> Int32 {
        let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let chroot else { throw ImageGenError.missingTool(name: "chroot(8)", package: "coreutils") }
        var env: [String: String] = [:]
        for line in environment {
            guard let equals = line.firstIndex(of: "=") else { continue }
            env[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
        if env["HOME"] == nil { env["HOME"] = "/root" }

        let previousInterrupt = signal(SIGINT) { number in
            let pid = runningCommand.load(ordering: .relaxed)
            if pid > 0 { kill(pid, number) }
        }
        let previousTerminate = signal(SIGTERM) { number in
            let pid = runningCommand.load(ordering: .relaxed)
            if pid > 0 { kill(pid, number) }
        }
        defer {
            runningCommand.store(0, ordering: .relaxed)
            signal(SIGINT, previousInterrupt)
            signal(SIGTERM, previousTerminate)
        }

        let child: ChildProcess
        do {
            child = try Subprocess(chroot, [root] + command, environment: env).spawn(stdin: .inherit, stdout: .inherit, stderr: .inherit)
        } catch {
            throw ImageGenError.tool(error)
        }
        runningCommand.store(child.pid, ordering: .relaxed)
        do {
            // The shell's number: the exit code, or 128 + the signal that ended it.
            return try child.wait().code
        } catch {
            throw ImageGenError.tool(error)
        }
    }
}

/// The pid of the command run-check is running (0: none), for the signal handlers, which can
/// capture nothing.
private let runningCommand = Atomic<Int32>(0)

/// The mounts run-check made, undone in reverse order.
struct MountTable {
    private(set) var targets: [String] = []

    /// mount(2) onto `target`, an existing file (a bind mount of a node) or a folder, made if
    /// missing; the error names the call.
    mutating func mount(_ source: String, at target: HostPath, type: String? = nil, flags: UInt = 0) throws {
        try FileManager.default.createDirectory(
            atPath: flags & UInt(MS_BIND) != 0 ? target.parent.path : target.path, withIntermediateDirectories: true)
        guard Glibc.mount(source, target.path, type, flags, nil) == 0 else {
            throw ImageGenError.output(path: target.path, reason: "mount \(source) failed: \(String(cString: strerror(errno)))")
        }
        targets.append(target.path)
    }

    /// Unmounts everything, last first (lazily, so a busy mount still goes); returns what is
    /// still mounted below `directory` according to /proc/self/mountinfo (which shows paths
    /// with links resolved).
    mutating func unmountAll(under directory: HostPath) -> [String] {
        for target in targets.reversed() { _ = umount2(target, Int32(MNT_DETACH)) }
        targets = []
        let prefixes = [directory.path, URL(fileURLWithPath: directory.path).resolvingSymlinksInPath().path].map { $0 + "/" }
        return Self.mountPoints().filter { point in prefixes.contains { point.hasPrefix($0) } }
    }

    /// The mount points of this process's namespace.
    static func mountPoints() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        // "36 35 98:0 /mnt1 /mnt/parent rw,… - ext3 /dev/root rw": the fifth field.
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? String(fields[4]).replacingOccurrences(of: "\\040", with: " ") : nil
        }
    }
}

/// A path on the host as run-check joins and splits it: by components, never by counting
/// characters, and spelled one way — absolute, no `//`, no trailing `/`, no `.` parts.
/// `NSTemporaryDirectory()` is `/tmp/`; joined with `/imagegen-run-check-…` by hand it gives
/// `/tmp//imagegen-…`, which NSString shortens by one character while a count of the long
/// spelling does not, so the folder made for `/dev/nvidia-caps/nvidia-cap1` was `ev/…`.
struct HostPath: Hashable, Sendable, CustomStringConvertible {
    /// The components below `/`.
    let components: [String]

    /// `path`, made absolute against the current directory when relative.
    init(_ path: String) {
        let base = path.hasPrefix("/") ? [] : Self.components(of: FileManager.default.currentDirectoryPath)
        components = base + Self.components(of: path)
    }

    private init(components: [String]) { self.components = components }

    /// The non-empty components of `path` other than `.`: `/tmp//x/./y/` gives `tmp`, `x`, `y`.
    static func components(of path: String) -> [String] {
        path.split(separator: "/").filter { $0 != "." }.map(String.init)
    }

    /// This path with `relative` (a name, or a path whose leading `/` is ignored) below it.
    func appending(_ relative: String) -> HostPath { appending(Self.components(of: relative)) }

    /// This path with `names` below it.
    func appending(_ names: [String]) -> HostPath { HostPath(components: components + names) }

    /// The folder this path is in (`/` for `/` itself).
    var parent: HostPath { HostPath(components: Array(components.dropLast())) }

    /// The one spelling.
    var path: String { "/" + components.joined(separator: "/") }

    var description: String { path }
}
