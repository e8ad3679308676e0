import Foundation
import ImageModel
import OCI
import SystemSupport

/// `imagegen plan`: which images change between two states of `Images/`, which of their layers
/// change and why, and how many bytes that costs — so a pipeline builds and pushes only that.
///
/// A layer's inputs are those of its key in ``LayerPlan``: the component's own debs and wheels
/// (by SHA-256), for a deb layer also the debs below it (its dpkg status lists them), the
/// Python version for the python layer and the wheel layers; the config layer depends on the
/// accounts (base-passwd, openssh-server, the spec's user) and the working directory. Byte
/// counts are the locked artifacts' sizes, the best estimate before a build.
public enum ImagePlanner {
    /// One image on one side: its spec and lock, either possibly absent.
    public struct Input: Sendable {
        /// The spec (after `extends`), when known.
        public var spec: ImageSpec?
        /// The lock, when there is one.
        public var lock: Lockfile?

        /// An input.
        public init(spec: ImageSpec?, lock: Lockfile?) {
            self.spec = spec
            self.lock = lock
        }
    }

    /// One layer and what changed in it.
    public struct LayerChange: Codable, Hashable, Sendable {
        /// The component (`base`, `python`, `cuda`, …, `config`).
        public var component: String
        /// Whether its digest will change.
        public var changed: Bool
        /// Why, one line each (`torch 2.7.0 → 2.7.1`).
        public var reasons: [String]
        /// The locked artifacts' bytes in this layer (after the change).
        public var bytes: Int64
        /// The platform (`linux/arm64`) of a multi-platform image's layer; nil for an image of one.
        public var platform: String? = nil

        /// `torch`, or `linux/arm64 torch` for a multi-platform image.
        public var name: String { platform.map { "\($0) \(component)" } ?? component }
    }

    /// What happens to an image between the two sides.
    public enum Status: String, Codable, Hashable, Sendable {
        /// Only the head side has it (spec and lock).
        case added
        /// Both sides have it and something in it differs.
        case changed
        /// Both sides have it, the same.
        case unchanged
        /// Only the base side has it.
        case removed
        /// The head side has a spec but no lock.
        case unlocked

        /// An image CI builds: added or changed.
        public var needsBuild: Bool { self == .added || self == .changed }
    }

    /// One image and what changes in it.
    public struct ImageChange: Codable, Hashable, Sendable {
        /// The image name.
        public var image: String
        /// What happens to it.
        public var status: Status
        /// Its layers (after the change; before it for a removed image).
        public var layers: [LayerChange]
        /// Image-level reasons (the spec changed: env, labels, tags…).
        public var reasons: [String]
        /// Bytes a fresh runner fetches and packs to build it (every layer), 0 if unchanged.
        public var buildBytes: Int64
        /// Bytes a push sends: the changed layers only, since unchanged layers keep their digests.
        public var pushBytes: Int64
        /// The tags its spec gives.
        public var tags: [String]

        /// The changed layers' components.
        public var changedLayers: [String] { layers.filter(\.changed).map(\.name) }
    }

    /// Compares two sides, image by image (sorted by name).
    public static func plan(base: [String: Input], head: [String: Input]) -> [ImageChange] {
        Set(base.keys).union(head.keys).sorted().compactMap { name in
            compare(name: name, base: base[name], head: head[name])
        }
    }

    static func compare(name: String, base: Input?, head: Input?) -> ImageChange? {
        guard let head, head.lock != nil || head.spec != nil else {
            guard let base else { return nil }
            let layers = base.lock.map { inputs(lock: $0, spec: base.spec) } ?? []
            return ImageChange(
                image: name, status: .removed,
                layers: layers.map { LayerChange(component: $0.component, changed: false, reasons: [], bytes: $0.bytes, platform: $0.platform) },
                reasons: ["removed from Images/"], buildBytes: 0, pushBytes: 0, tags: base.spec?.config.tags ?? [])
        }
        guard let lock = head.lock else {
            // A spec without a lock cannot be built; say so rather than guess.
            return ImageChange(image: name, status: .unlocked, layers: [], reasons: ["has a spec but no lock; run `imagegen lock \(name)`"],
                               buildBytes: 0, pushBytes: 0, tags: head.spec?.config.tags ?? [])
        }
        let new = inputs(lock: lock, spec: head.spec)
        let tags = head.spec?.config.tags ?? []
        guard let base, let oldLock = base.lock else {
            let layers = new.map { LayerChange(component: $0.component, changed: true, reasons: ["new image"], bytes: $0.bytes, platform: $0.platform) }
            let total = new.reduce(0) { $0 + $1.bytes }
            return ImageChange(image: name, status: .added, layers: layers, reasons: ["new image"], buildBytes: total, pushBytes: total, tags: tags)
        }
        // Layers are matched by platform and component; a platform added to or dropped from the
        // spec shows as its layers added or removed.
        let old = Dictionary(inputs(lock: oldLock, spec: base.spec).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var layers: [LayerChange] = []
        for layer in new {
            guard let before = old[layer.key] else {
                layers.append(LayerChange(component: layer.component, changed: true, reasons: ["new layer"], bytes: layer.bytes, platform: layer.platform))
                continue
            }
            let reasons = differences(before: before, after: layer)
            layers.append(LayerChange(component: layer.component, changed: !reasons.isEmpty, reasons: reasons, bytes: layer.bytes, platform: layer.platform))
        }
        var imageReasons: [String] = []
        for (key, layer) in old.sorted(by: { $0.key < $1.key }) where !new.contains(where: { $0.key == key }) {
            imageReasons.append("layer \(layer.platform.map { "\($0) " } ?? "")\(layer.component) removed")
        }
        if oldLock.specDigest != lock.specDigest {
            if let a = base.spec, let b = head.spec {
                imageReasons += specDifferences(a, b)
            } else {
                imageReasons.append("the spec changed (spec digest \(oldLock.specDigest.short) → \(lock.specDigest.short))")
            }
            if imageReasons.isEmpty { imageReasons.append("the spec changed") }
        }
        if oldLock.resolved != lock.resolved {
            // The config's created date (unless SOURCE_DATE_EPOCH is set), not a layer.
            let dates = [oldLock.resolved, lock.resolved].map { $0?.rfc3339 ?? "none" }
            imageReasons.append("the lock's resolved date changed (\(dates[0]) → \(dates[1])): the image's created date")
        }
        let changed = !imageReasons.isEmpty || layers.contains(where: \.changed)
        let total = new.reduce(0) { $0 + $1.bytes }
        let push = layers.filter(\.changed).reduce(0) { $0 + $1.bytes }
        return ImageChange(
            image: name, status: changed ? .changed : .unchanged, layers: layers, reasons: imageReasons,
            buildBytes: changed ? total : 0, pushBytes: changed ? push : 0, tags: tags)
    }

    /// A layer's inputs, in words that can be compared and shown.
    struct LayerInputs {
        var component: String
        /// The platform, for a multi-platform lock's layer (what the plan shows).
        var platform: String? = nil
        /// The platform of the lock it comes from, one platform or several.
        var lockPlatform = ""
        /// Platform and component: what matches a layer across the two sides, so that adding a
        /// platform to a spec leaves the first platform's layers matched with the ones before.
        var key: String { "\(lockPlatform) \(component)" }
        /// Artifact name → "version sha256" for the layer's own artifacts.
        var artifacts: [String: (version: String, sha256: Digest)] = [:]
        /// The digest of the lower debs (for deb layers), or nil.
        var lower: Digest?
        /// Other inputs by name (python version, accounts, workdir).
        var settings: [String: String] = [:]
        var bytes: Int64 = 0
    }

    /// The layers of a lock in order, with their inputs (mirrors ``LayerPlan``).
    static func inputs(lock: Lockfile, spec: ImageSpec?) -> [LayerInputs] {
        let several = lock.platforms.count > 1
        return lock.perPlatform.flatMap { one in
            inputs(platformLock: one, spec: spec).map { layer in
                var layer = layer
                layer.lockPlatform = one.platform
                layer.platform = several ? one.platform : nil
                return layer
            }
        }
    }

    /// One platform's layers.
    static func inputs(platformLock lock: Lockfile, spec: ImageSpec?) -> [LayerInputs] {
        let pythonDeb = lock.debs.first { $0.name.hasPrefix("python3.") && $0.component == .python && !$0.name.contains("-") }
        let python = pythonDeb.map { "\($0.name) \($0.version)" } ?? spec?.python.map { "\($0.version)" }
        var out: [LayerInputs] = []
        var lower: [String] = []
        for kind in ComponentKind.allCases where kind != .driver && kind != .config {
            let debs = lock.debs.filter { $0.component == kind }
            let wheels = lock.wheels.filter { $0.component == kind }
            let hasPython = spec?.python != nil || lock.components[ComponentKind.python.rawValue] != nil
            guard !debs.isEmpty || !wheels.isEmpty || (kind == .python && hasPython) else { continue }
            var layer = LayerInputs(component: kind.rawValue)
            for deb in debs { layer.artifacts["deb \(deb.name):\(deb.architecture)"] = (deb.version, deb.sha256) }
            for wheel in wheels { layer.artifacts["wheel \(wheel.name)"] = (wheel.version, wheel.sha256) }
            if !debs.isEmpty { layer.lower = Digest.of(Array(lower.joined(separator: "\n").utf8)) }
            if kind == .python || !wheels.isEmpty { layer.settings["python"] = python ?? "none" }
            layer.bytes = debs.reduce(0) { $0 + $1.size } + wheels.reduce(0) { $0 + $1.size }
            lower += debs.map(\.sha256.description)
            out.append(layer)
        }
        var config = LayerInputs(component: ComponentKind.config.rawValue)
        let passwd = lock.debs.first { $0.name == "base-passwd" }
        config.settings["base-passwd"] = passwd.map { "\($0.version) \($0.sha256.short)" } ?? "none"
        config.settings["openssh-server"] = lock.debs.contains { $0.name == "openssh-server" } ? "yes" : "no"
        if let spec {
            config.settings["user"] = spec.config.user.map { "\($0.name) \($0.uid):\($0.gid)" } ?? "root"
            config.settings["workdir"] = spec.config.workdir ?? "none"
        }
        out.append(config)
        return out
    }

    static func differences(before: LayerInputs, after: LayerInputs) -> [String] {
        var reasons: [String] = []
        for name in Set(before.artifacts.keys).union(after.artifacts.keys).sorted() {
            switch (before.artifacts[name], after.artifacts[name]) {
            case let (a?, b?) where a.sha256 != b.sha256:
                reasons.append(a.version == b.version ? "\(name) \(a.version) rebuilt (\(a.sha256.short) → \(b.sha256.short))" : "\(name) \(a.version) → \(b.version)")
            case (nil, let b?): reasons.append("\(name) \(b.version) added")
            case (let a?, nil): reasons.append("\(name) \(a.version) removed")
            default: break
            }
        }
        if let a = before.lower, let b = after.lower, a != b, reasons.isEmpty {
            reasons.append("debs below changed (this layer's dpkg status lists them)")
        }
        for key in Set(before.settings.keys).union(after.settings.keys).sorted() where before.settings[key] != after.settings[key] {
            guard let a = before.settings[key], let b = after.settings[key] else { continue }
            reasons.append("\(key) \(a) → \(b)")
        }
        return reasons
    }

    /// What changed in the spec beyond the layers: the image configuration's fields.
    static func specDifferences(_ a: ImageSpec, _ b: ImageSpec) -> [String] {
        var out: [String] = []
        if a.config.env != b.config.env { out.append("config.env changed") }
        if a.config.labels != b.config.labels { out.append("config.labels changed") }
        if a.config.ports != b.config.ports { out.append("config.ports changed") }
        if a.config.entrypoint != b.config.entrypoint || a.config.cmd != b.config.cmd { out.append("config.entrypoint/cmd changed") }
        if a.config.tags != b.config.tags { out.append("tags \(a.config.tags.joined(separator: ",")) → \(b.config.tags.joined(separator: ","))") }
        if a.description != b.description { out.append("description changed") }
        if a.base.packages != b.base.packages { out.append("base.packages changed") }
        if a.packages != b.packages { out.append("packages changed") }
        if a.tools != b.tools { out.append("tools changed") }
        if a.platformNames != b.platformNames {
            out.append("platforms \(a.platformNames.joined(separator: ", ")) → \(b.platformNames.joined(separator: ", "))")
        }
        return out
    }

    // MARK: Sides

    /// Every spec and lock in a directory (specs that fail to load are errors).
    public static func side(directory: String) throws -> [String: Input] {
        let loader = SpecLoader(directory: directory)
        var names = Set(loader.names())
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files where file.hasSuffix(".lock.json") { names.insert(String(file.dropLast(".lock.json".count))) }
        var out: [String: Input] = [:]
        for name in names {
            let spec = FileManager.default.fileExists(atPath: "\(directory)/\(name).yaml") ? try loader.load(name) : nil
            let lockPath = "\(directory)/\(name).lock.json"
            let lock = FileManager.default.fileExists(atPath: lockPath) ? try Lockfile.load(path: lockPath) : nil
            out[name] = Input(spec: spec, lock: lock)
        }
        return out
    }

    /// The images directory as it was at a git revision: its files are written to a scratch
    /// directory (`git show REV:./FILE`), then read like the working tree.
    public static func side(revision: String, directory: String) throws -> [String: Input] {
        let listing = try git(["ls-tree", "--name-only", revision, "./"], in: directory)
        return try ScratchDirectory.with(purpose: "plan") { scratch in
            for line in listing.split(separator: "\n") {
                let name = String(line.split(separator: "/").last ?? line)
                guard name.hasSuffix(".yaml") || name.hasSuffix(".lock.json") else { continue }
                let bytes = try gitBytes(["show", "\(revision):./\(name)"], in: directory)
                try AtomicFileWriter.write(bytes, to: scratch.appending(name))
            }
            return try side(directory: scratch.path)
        }
    }

    static func git(_ arguments: [String], in directory: String) throws -> String {
        String(decoding: try gitBytes(arguments, in: directory), as: UTF8.self)
    }

    static func gitBytes(_ arguments: [String], in directory: String) throws -> [UInt8] {
        do {
            return try Subprocess("git", ["-C", directory] + arguments).checkedOutput().stdout
        } catch {
            throw ImageGenError.tool(error)
        }
    }
}
