import Artifacts
import Foundation
import ImageModel
import OCI
import Rootfs
import SupplyChain

/// The bills of materials and the provenance of a built image, per platform: read from the
/// image (manifests, layers, which layer carries which component), the lock (every artifact
/// and its SHA-256) and the artifacts themselves (source packages, declared licenses), and
/// written beside the image as `out/NAME.spdx.json`, `out/NAME.cdx.json` and
/// `out/NAME.provenance.json` (`out/NAME.linux-arm64.spdx.json`, … for each platform of a
/// multi-platform image). `push` attaches them to the image's manifests (docs/supply-chain.md).
public enum SupplyChainFiles {
    /// A document kind.
    public enum Kind: String, CaseIterable, Sendable {
        case spdx, cyclonedx, provenance

        /// The file name's suffix.
        public var suffix: String {
            switch self {
            case .spdx: "spdx.json"
            case .cyclonedx: "cdx.json"
            case .provenance: "provenance.json"
            }
        }

        /// The media type it is attached under.
        public var mediaType: MediaType {
            switch self {
            case .spdx: .spdxJSON
            case .cyclonedx: .cycloneDXJSON
            case .provenance: .inTotoJSON
            }
        }
    }

    /// Where the inputs are.
    public struct Options: Sendable {
        /// The specs and locks (`Images`).
        public var images: String
        /// The cache (`~/.cache/imagegen`): artifacts to read, facts read before.
        public var cacheDirectory: String
        /// imagegen's version.
        public var toolVersion: String
        /// The builder's identity in the provenance: `IMAGEGEN_BUILDER_ID`, else a local builder.
        public var builderID = ProcessInfo.processInfo.environment["IMAGEGEN_BUILDER_ID"] ?? Provenance.localBuilder
        /// Compare the lock with the one the image's build recorded beside it (off for the
        /// build itself, which has just made the image from this lock).
        public var checksRecordedBuild = true
        /// The options of the build that change bytes, by name.
        public var buildOptions: [String: String] = [:]
        /// When the build started and finished (only in the provenance's run details).
        public var started: BuildTime?
        /// See `started`.
        public var finished: BuildTime?

        /// Options.
        public init(images: String, cacheDirectory: String, toolVersion: String = ImageGenVersion.current) {
            self.images = images
            self.cacheDirectory = cacheDirectory
            self.toolVersion = toolVersion
        }

        /// `IMAGES/NAME.lock.json`.
        func lockPath(_ name: String) -> String { "\(images)/\(name).lock.json" }
    }

    /// The path of `kind`'s document for `platform` of the image at `imagePath` (`out/NAME`
    /// or `out/NAME.tar`): `out/NAME.spdx.json` when the image has one platform, else
    /// `out/NAME.linux-arm64.spdx.json`.
    public static func path(image imagePath: String, platform: String, platformCount: Int, kind: Kind) -> String {
        var stem = imagePath
        while stem.count > 1, stem.hasSuffix("/") { stem.removeLast() }
        if stem.hasSuffix(".tar") { stem.removeLast(4) }
        let tag = platformCount > 1 ? "." + platform.replacingOccurrences(of: "/", with: "-") : ""
        return "\(stem)\(tag).\(kind.suffix)"
    }

    /// The inventory of each platform of the image `name` built at `imagePath`, in the
    /// image's order. Refuses an image that was not built from the lock as it is now
    /// (``checkBuilt(_:from:lockSHA256:lockPath:imagePath:platformCount:)``) and a locked
    /// artifact missing from the cache (its declared license would be missing, and the
    /// document's bytes would change).
    public static func inventories(name: String, image imagePath: String, options: Options) throws -> [Inventory] {
        let lockPath = options.lockPath(name)
        let lock = try Lockfile.load(path: lockPath)
        let spec = try SpecLoader(directory: options.images).load(name)
        let source = try openImage(imagePath)
        let facts = try FactsCache(cacheDirectory: options.cacheDirectory, image: name)
        let lockSHA256 = Digest.of(try FileReader.readAll(path: lockPath, limit: 64 << 20))
        let manifests = try PlatformManifest.all(in: source)
        return try manifests.map { image in

            guard let platformLock = lock.forPlatform(image.platform) else {
                throw ImageGenError.invalidInput(
                    path: imagePath, reason: "the image holds \(image.platform), which \(lockPath) does not resolve (\(lock.platforms.joined(separator: ", "))); rebuild it")
            }
            let layers = try Self.layers(of: image, path: imagePath)
            if options.checksRecordedBuild {
                try checkBuilt(image, from: lock, lockSHA256: lockSHA256, lockPath: lockPath, imagePath: imagePath, platformCount: manifests.count)
            }
            let components = Set(layers.map(\.component))
            var packages: [Inventory.Package] = []
            for deb in platformLock.debs {
                packages.append(Inventory.Package(
                    kind: .deb, name: deb.name, version: deb.version, architecture: deb.architecture, fileName: deb.fileName,
                    sha256: deb.sha256, size: deb.size, component: deb.component.rawValue, facts: try facts.facts(deb: deb)))
            }
            for wheel in platformLock.wheels {
                packages.append(Inventory.Package(
                    kind: .wheel, name: wheel.name, version: wheel.version, architecture: nil, fileName: wheel.fileName,
                    sha256: wheel.sha256, size: wheel.size, component: wheel.component.rawValue, facts: try facts.facts(wheel: wheel)))
            }
            for package in packages where !components.contains(package.component) {
                throw ImageGenError.invalidInput(
                    path: imagePath, reason: "no layer of the image carries component '\(package.component)' of \(package.fileName); the image was not built from \(lockPath) (rebuild it)")
            }
            guard let created = image.config.created else {
                throw ImageGenError.invalidInput(path: imagePath, reason: "the image configuration has no 'created' time")
            }
            return Inventory(
                name: name, platform: image.platform, manifest: image.descriptor, config: image.manifest.config.digest,
                created: try BuildTime(rfc3339: created, name: "\(imagePath) config created"), tags: spec.config.tags, layers: layers,
                packages: packages, operatingSystem: operatingSystem(spec: spec, lock: platformLock), toolVersion: options.toolVersion)
        }
    }

    /// Refuses an image built from another lock: its `io.imagegen.lock.spec-digest` label is
    /// not the lock's spec digest, or the provenance its build wrote beside it records another
    /// lock SHA-256 (a relocked spec keeps its spec digest; the build's record does not lie).
    static func checkBuilt(_ image: PlatformManifest, from lock: Lockfile, lockSHA256: Digest, lockPath: String, imagePath: String, platformCount: Int) throws {
        let label = image.config.config?.labels?["io.imagegen.lock.spec-digest"]
        guard label == lock.specDigest.description else {
            throw ImageGenError.notBuiltFromLock(
                image: imagePath, lock: lockPath,
                reason: "its \(image.platform) image was built from a lock of spec \(label ?? "(no io.imagegen.lock.spec-digest label)"), \(lockPath) is of spec \(lock.specDigest)")
        }
        let record = path(image: imagePath, platform: image.platform, platformCount: platformCount, kind: .provenance)
        guard let bytes = try? FileReader.readAll(path: record, limit: 256 << 20),
            let statement = try? CanonicalJSON.decode(Provenance.self, from: bytes, name: record),
            statement.subject.first?.digest["sha256"] == image.descriptor.digest.encoded,
            let recorded = statement.predicate.buildDefinition.externalParameters["lockSHA256"]
        else { return }  // no record of this image's build: the label is all there is to check
        guard recorded == lockSHA256.description else {
            throw ImageGenError.notBuiltFromLock(
                image: imagePath, lock: lockPath, reason: "its build (\(record)) read a lock of SHA-256 \(recorded), \(lockPath) is now \(lockSHA256)")
        }
    }

    /// The layers of a built image and the component each carries, from the configuration's
    /// history (`imagegen build: COMPONENT (…)`, one entry per layer).
    static func layers(of image: PlatformManifest, path: String) throws -> [Inventory.Layer] {
        let steps = (image.config.history ?? []).filter { $0.emptyLayer != true }
        let prefix = "imagegen build: "
        guard steps.count == image.manifest.layers.count, image.config.rootfs.diffIDs.count == image.manifest.layers.count else {
            throw ImageGenError.invalidInput(
                path: path, reason: "its \(image.platform) configuration lists \(steps.count) layer steps for \(image.manifest.layers.count) layers; not an image `imagegen build` made")
        }
        return try image.manifest.layers.indices.map { index in
            guard let createdBy = steps[index].createdBy, createdBy.hasPrefix(prefix),
                let component = createdBy.dropFirst(prefix.count).split(separator: " ").first
            else {
                throw ImageGenError.invalidInput(
                    path: path, reason: "layer \(index + 1) of \(image.platform) was not made by `imagegen build` (history: '\(steps[index].createdBy ?? "")'); bills of materials are made for built images")
            }
            return Inventory.Layer(component: String(component), descriptor: image.manifest.layers[index], diffID: image.config.rootfs.diffIDs[index])
        }
    }

    /// The release the debs come from: the major version of `base-files` (`12.4+deb12u11` → 12).
    static func operatingSystem(spec: ImageSpec, lock: Lockfile) -> Inventory.OperatingSystem {
        let known = ["buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"]
        let fromBaseFiles = lock.debs.first { $0.name == "base-files" }.map { String($0.version.prefix { $0.isNumber }) }
        let version = fromBaseFiles.flatMap { $0.isEmpty ? nil : $0 } ?? known[spec.base.release] ?? spec.base.release
        return Inventory.OperatingSystem(id: spec.base.distribution, versionID: version, codename: spec.base.release)
    }

    /// The document of `kind` for `inventory`.
    public static func document(_ kind: Kind, of inventory: Inventory, name: String, options: Options) throws -> [UInt8] {
        switch kind {
        case .spdx: return try SPDXDocument(inventory).encoded()
        case .cyclonedx: return try CycloneDXDocument(inventory).encoded()
        case .provenance: return try Provenance(inventory, parameters: try parameters(name: name, options: options)).encoded()
        }
    }

    /// The provenance's parameters: the spec, the lock's hash, the source revision.
    static func parameters(name: String, options: Options) throws -> Provenance.Parameters {
        let lockPath = options.lockPath(name)
        let lock = try Lockfile.load(path: lockPath)
        let lockBytes = try FileReader.readAll(path: lockPath, limit: 64 << 20)
        let git = GitCheckout(directory: options.images)
        return Provenance.Parameters(
            specPath: git.relativePath(of: "\(options.images)/\(name).yaml"), specDigest: lock.specDigest, lockSHA256: Digest.of(lockBytes),
            options: options.buildOptions, revision: git.revision, repository: git.origin, builderID: options.builderID,
            started: options.started, finished: options.finished)
    }

    /// Writes every document of every platform of the image at `imagePath` beside it, or
    /// beside the path `beside` names (an image published without a layout of its own), each
    /// to a temporary name, then renamed; returns the paths.
    @discardableResult
    public static func write(name: String, image imagePath: String, options: Options, beside: String? = nil) throws -> [String] {
        let inventories = try inventories(name: name, image: imagePath, options: options)
        var written: [String] = []
        for inventory in inventories {
            for kind in Kind.allCases {
                let path = path(image: beside ?? imagePath, platform: inventory.platform, platformCount: inventories.count, kind: kind)
                let writer = try AtomicFileWriter(path: path)
                try writer.write(try document(kind, of: inventory, name: name, options: options))
                try writer.commit()
                written.append(path)
            }
        }
        return written
    }
}

/// The revision and `origin` of the git checkout a directory is in, when it is in one
/// (read with `git`; nil when git or the checkout is missing, or the remote has none).
struct GitCheckout {
    var revision: String?
    /// `remote.origin.url` without any user or password in it (a token in a clone URL must
    /// not travel into a published provenance).
    var origin: String?
    var topLevel: String?

    init(directory: String) {
        revision = Self.git(["rev-parse", "HEAD"], in: directory)
        topLevel = revision == nil ? nil : Self.git(["rev-parse", "--show-toplevel"], in: directory)
        origin = revision == nil ? nil : Self.git(["config", "--get", "remote.origin.url"], in: directory).map(Self.withoutCredentials)
    }

    /// `path` relative to the checkout's top level (so that the provenance is the same in
    /// every clone); as given outside a checkout.
    func relativePath(of path: String) -> String {
        guard let topLevel else { return path }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let root = URL(fileURLWithPath: topLevel).standardizedFileURL.resolvingSymlinksInPath().path
        return absolute.hasPrefix(root + "/") ? String(absolute.dropFirst(root.count + 1)) : path
    }

    /// `https://user:token@host/x` → `https://host/x`; other forms as they are.
    static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let slash = url[scheme.upperBound...].firstIndex(of: "/") ?? url.endIndex
        guard at < slash else { return url }
        return String(url[..<scheme.upperBound]) + String(url[url.index(after: at)...])
    }

    private static func git(_ arguments: [String], in directory: String) -> String? {
        guard let output = try? ImagePlanner.git(arguments, in: directory) else { return nil }
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
