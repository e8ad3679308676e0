import Foundation
import ImageModel
import OCI
import Rootfs

/// An image's lock seen as a Dockerfile: the values the templates of `Templates/` render, and
/// the files of the build context (requirements with hashes, the entrypoint).
///
/// It is made from the same resolved spec and lock as imagegen's own OCI build, and takes the
/// labels, environment, entrypoint and venv from the same code (``ImageMetadata``,
/// ``VenvSkeleton``), so the two ways of making the image agree. docs/dockerfile.md lists the
/// template variables (``context``).
public struct DockerfileModel: Sendable {
    /// One `RUN`: a component's locked debs and wheels.
    public struct Component: Sendable {
        public var kind: ComponentKind
        /// The graph's label for it (`CUDA 12.6 runtime`).
        public var label: String
        /// The debs every platform installs, at the same version.
        public var debs: [LockedDeb]
        /// The first platform's wheels.
        public var wheels: [LockedWheel]
        /// For a multi-platform lock, each architecture's debs that are not in ``debs`` (its
        /// `binutils-x86-64-linux-gnu`, …); empty for one platform.
        public var platformDebs: [(architecture: String, debs: [LockedDeb])] = []
        /// For a multi-platform lock, each platform's wheels by Linux machine (`x86_64`,
        /// `aarch64`); empty for one platform.
        public var platformWheels: [(machine: String, wheels: [LockedWheel])] = []
        /// Whether this step makes the venv (the Python component).
        public var makesVenv: Bool
        /// Commands that check the step worked (they change nothing in the image).
        public var checks: [String]
    }

    /// The base images imagegen knows, by `distribution:release`, pinned by digest. Override
    /// with `--base` or the `BASE` build argument. (Digest of `debian:bookworm-slim` as published
    /// by Docker Official Images; a newer one works the same, apt installs the locked versions.)
    public static let defaultBases = [
        "debian:bookworm": "docker.io/library/debian:bookworm-slim@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d"
    ]

    /// The directory of the build context that holds imagegen's files.
    public static let contextDirectory = "imagegen"

    public let image: ResolvedImage
    public let lock: Lockfile
    /// The lock's path as the header names it, and the SHA-256 of its bytes.
    public let lockPath: String
    public let lockSHA256: Digest
    /// The `FROM` default.
    public let base: String
    public let components: [Component]
    /// The pip wheel that installs the others (the lock's own); nil when the lock has no wheels.
    public let pipWheel: LockedWheel?
    public let labels: [String: String]
    /// The interpreter of the venv, when there is one.
    public let python: PythonVersion?
    /// The venv the python component makes (its folders, links and pyvenv.cfg), when there is one.
    let venvSkeleton: VenvSkeleton?
    /// The version of imagegen, for the header.
    public let imagegenVersion: String

    /// The model of `image` with `lock`, read from `lockPath` whose bytes hash to `lockSHA256`;
    /// `sourceDateEpoch`, when set, is the created label instead of the lock's date. Throws
    /// when the lock has wheels but no pip wheel to install them with, or when no base is given
    /// and none is known for the spec's distribution and release.
    public init(
        image: ResolvedImage, lock: Lockfile, lockPath: String, lockSHA256: Digest, base: String?,
        sourceDateEpoch: BuildTime?, revision: String?, imagegenVersion: String
    ) throws {
        let spec = image.spec
        self.image = image
        self.lock = lock
        self.lockPath = lockPath
        self.lockSHA256 = lockSHA256
        self.imagegenVersion = imagegenVersion
        let release = "\(spec.base.distribution):\(spec.base.release)"
        guard let base = base ?? Self.defaultBases[release] else {
            throw ImageGenError.invalidInput(
                path: "--base", reason: "no default base image for \(release); pass --base IMAGE@sha256:DIGEST")
        }
        self.base = base
        python = try ImageMetadata.venvPython(spec: spec, lock: lock)
        // A venv needs the full Python version; a lock without the interpreter's deb cannot say it.
        venvSkeleton = try python.map(VenvSkeleton.init(python:))
        pipWheel = lock.wheels.first { $0.name == "pip" }
        if !lock.wheels.isEmpty, pipWheel == nil {
            throw ImageGenError.invalidInput(
                path: lockPath,
                reason: "the Dockerfile installs the locked wheels with the lock's own pip, and this lock has none; "
                    + "add `packages: [pip]` to \(spec.name).yaml and run `imagegen lock \(spec.name)`")
        }
        labels = ImageMetadata.labels(
            image: image, lock: lock, created: BuildTime.created(sourceDateEpoch: sourceDateEpoch, resolved: lock.resolved),
            revision: revision, sourceURL: nil)

        var components: [Component] = []
        // A multi-platform lock: one Dockerfile for every platform (`docker buildx build
        // --platform …` runs it once per platform), so what differs between them is chosen
        // where it runs — debs by `dpkg --print-architecture`, wheels by pip's markers.
        let platforms = lock.perPlatform
        for kind in ComponentKind.allCases where kind != .driver && kind != .config {
            let platformDebs = platforms.map { one in one.debs.filter { $0.component == kind } }
            let debs = platformDebs[0].filter { deb in
                platformDebs.dropFirst().allSatisfy { $0.contains { $0.name == deb.name && $0.version == deb.version } }
            }
            let wheels = lock.wheels.filter { $0.component == kind }
            let makesVenv = kind == .python && python != nil
            let anyWheels = platforms.contains { one in one.wheels.contains { $0.component == kind } }
            guard platformDebs.contains(where: { !$0.isEmpty }) || anyWheels || makesVenv else { continue }
            var checks: [String] = []
            if let layout = python.map(VenvLayout.init(python:)) {
                if kind == .torch, wheels.contains(where: { $0.name == "torch" }) {
                    checks.append("PYTHONDONTWRITEBYTECODE=1 \(layout.interpreter) -c 'import torch; print(\"torch\", torch.__version__)'")
                }
                if kind == .cuda, wheels.contains(where: { $0.name.hasPrefix("nvidia-cuda-nvcc") }) {
                    let major = spec.cuda?.version.major ?? 12
                    checks.append("/\(layout.sitePackages)/\(CUDAComponent.nvccPath(major: major)) --version")
                }
            }
            var component = Component(
                kind: kind, label: image.graph.node(kind)?.label ?? kind.rawValue, debs: debs, wheels: wheels,
                makesVenv: makesVenv, checks: checks)
            if platforms.count > 1 {
                let common = Set(debs.map(\.name))
                component.platformDebs = zip(platforms, platformDebs).map { one, own in
                    (ImageSpec.architecture(of: one.platform), own.filter { !common.contains($0.name) })
                }.filter { !$0.debs.isEmpty }
                component.platformWheels = platforms.map { one in
                    (ImageSpec.machine(of: ImageSpec.architecture(of: one.platform)), one.wheels.filter { $0.component == kind })
                }
            }
            components.append(component)
        }
        self.components = components
    }

    /// `requirements/COMPONENT.txt` of the context: each locked wheel as
    /// `name==version --hash=sha256:…`, sorted by name.
    ///
    /// For a multi-platform lock, a wheel every platform has at one version is one line with
    /// each platform's hash (pip takes the file whose hash is listed); any other wheel is a line
    /// per platform with a `platform_machine` marker.
    public func requirements(_ component: Component) -> String {
        guard !component.platformWheels.isEmpty else {
            return component.wheels.sorted { $0.name < $1.name }.map { "\($0.name)==\($0.version) --hash=sha256:\($0.sha256.encoded)\n" }.joined()
        }
        let names = Set(component.platformWheels.flatMap { $0.wheels.map(\.name) }).sorted()
        var lines: [String] = []
        for name in names {
            let found = component.platformWheels.compactMap { machine, wheels in wheels.first { $0.name == name }.map { (machine, $0) } }
            func hashes(_ wheels: [LockedWheel]) -> String {
                Set(wheels.map(\.sha256.encoded)).sorted().map { " --hash=sha256:\($0)" }.joined()
            }
            if found.count == component.platformWheels.count, Set(found.map(\.1.version)).count == 1 {
                lines.append("\(name)==\(found[0].1.version)" + hashes(found.map(\.1)))
            } else {
                for (machine, wheel) in found {
                    lines.append("\(name)==\(wheel.version) ; platform_machine == \"\(machine)\"" + hashes([wheel]))
                }
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// The files of the context below ``contextDirectory``, by relative path, with their modes;
    /// the pip wheel (a copy of a cached artifact) is not among them.
    public var contextFiles: [(path: String, bytes: [UInt8], mode: Int)] {
        var files: [(String, [UInt8], Int)] = [("imagegen-entrypoint", Array(GeneratedFiles.entrypoint.utf8), 0o755)]
        if CUDACheck.isInstalled(in: image.spec) { files.append(("cuda-check", CUDACheck.program, 0o755)) }
        for component in components where !component.wheels.isEmpty || component.platformWheels.contains(where: { !$0.wheels.isEmpty }) {
            files.append(("requirements/\(component.kind.rawValue).txt", Array(requirements(component).utf8), 0o644))
        }
        return files
    }

    /// The values the templates render (documented in docs/dockerfile.md).
    public var context: [String: Any] {
        let spec = image.spec
        let layout = python.map(VenvLayout.init(python:))
        let components = components.map { component -> [String: Any] in
            var values: [String: Any] = [
                "name": component.kind.rawValue,
                "label": component.label,
                "summary": summary(component),
                "hasDebs": !component.debs.isEmpty || !component.platformDebs.isEmpty,
                "debs": component.debs.map { ["name": $0.name, "version": $0.version, "sha256": $0.sha256.encoded] },
                "hasPlatformDebs": !component.platformDebs.isEmpty,
                "platformDebs": component.platformDebs.map { architecture, debs in
                    ["architecture": architecture, "debs": debs.map { ["name": $0.name, "version": $0.version, "sha256": $0.sha256.encoded] }] as [String: Any]
                },
                "hasWheels": !component.wheels.isEmpty || component.platformWheels.contains { !$0.wheels.isEmpty },
                "wheels": component.wheels.map { ["name": $0.name, "version": $0.version, "sha256": $0.sha256.encoded] },
                "checks": component.checks,
                "removesSSHHostKeys": component.debs.contains { $0.name == "openssh-server" },
            ]
            if let layout, let pipWheel {
                values["python"] = layout.interpreter
                values["pipWheel"] = pipWheel.fileName
                values["sitePackages"] = "/\(layout.sitePackages)"
                values["linkerConfiguration"] = true
            }
            if component.makesVenv, let skeleton = venvSkeleton {
                values["venv"] = [
                    "prefix": "/\(VenvLayout.prefix)",
                    "directories": skeleton.directories.map { "/\($0)" },
                    "links": skeleton.links.map { ["path": "/\($0.path)", "target": $0.target] },
                    "configuration": skeleton.configuration.split(separator: "\n").map(String.init),
                ] as [String: Any]
            }
            return values
        }
        var config: [String: Any] = ["label": "entrypoint, accounts, workdir, environment, labels"]
        let user = spec.config.user
        if let user { config["user"] = ["name": user.name, "uid": user.uid, "gid": user.gid] as [String: Any] }
        if let workdir = spec.config.workdir {
            var values: [String: Any] = ["path": workdir]
            if let user { values["owner"] = ["uid": user.uid, "gid": user.gid] }
            config["workdir"] = values
        }
        return [
            "imagegen": ["version": imagegenVersion],
            "image": [
                "name": spec.name, "description": spec.description ?? spec.name, "flavour": flavour,
                "multiPlatform": lock.platforms.count > 1, "platforms": lock.platforms.joined(separator: ","),
            ] as [String: Any],
            "lock": ["path": lockPath, "sha256": lockSHA256.encoded, "specDigest": lock.specDigest.description],
            "base": base,
            "components": components,
            "config": config,
            "env": image.environment.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value, "quoted": Self.quoted($0.value)] },
            "labels": labels.sorted { $0.key < $1.key }.map {
                ["key": $0.key, "value": $0.value, "quotedKey": Self.quoted($0.key), "quoted": Self.quoted($0.value)]
            },
            "hasPorts": !spec.config.ports.isEmpty,
            "ports": spec.config.ports,
            "entrypoint": Self.jsonArray(ImageMetadata.entrypoint(spec)),
            "cudaCheck": CUDACheck.isInstalled(in: spec),
            "cmd": spec.config.cmd.map { [Self.jsonArray($0)] } ?? [],
            "tags": spec.config.tags,
        ]
    }

    /// `runtime` or `devel`: which Dockerfile template renders it.
    public var flavour: String { image.spec.cuda?.flavour.rawValue ?? "runtime" }

    /// `12 debs, 3 wheels`.
    func summary(_ component: Component) -> String {
        var parts: [String] = []
        if !component.debs.isEmpty { parts.append("\(component.debs.count) deb\(component.debs.count == 1 ? "" : "s")") }
        for (architecture, debs) in component.platformDebs { parts.append("\(debs.count) \(architecture) only") }
        if !component.wheels.isEmpty { parts.append("\(component.wheels.count) wheel\(component.wheels.count == 1 ? "" : "s")") }
        if component.makesVenv { parts.append("the venv at /\(VenvLayout.prefix)") }
        return parts.joined(separator: ", ")
    }

    /// A Dockerfile double-quoted word: `"`, `\` and `$` escaped, so neither the parser nor
    /// variable expansion changes it.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for character in value {
            switch character {
            case "\"", "\\", "$": out += "\\\(character)"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    /// The JSON (exec) form of a command: `["a", "b"]`.
    static func jsonArray(_ words: [String]) -> String {
        let items = words.map { word -> String in
            let data = (try? JSONSerialization.data(withJSONObject: word, options: [.fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        return "[" + items.joined(separator: ", ") + "]"
    }
}
