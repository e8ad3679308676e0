import Foundation
import ImageModel
import OCI
import SystemSupport

/// Makes every artifact of a lock present in an `ArtifactCache`, verified, and says where each
/// one is.
///
/// What the cache lacks is asked of the ``mirror`` first, when there is one (an OCI registry
/// that keeps the locked artifacts as blobs: docs/artifact-mirror.md); what the mirror lacks
/// too is downloaded by the ecosystems' own clients (DESIGN.md, decision 4), from the host's
/// sources unless told otherwise: `.deb` files by `apt-get download` through a
/// private apt state (the same kind `AptResolver` keeps: own lists, empty dpkg status), wheels
/// by `pip download --require-hashes` for the target interpreter and platforms. apt and pip run
/// side by side. Each file is then stored in the cache, which checks its SHA-256 and size
/// against the lock; every path a fetch returns is one that matched.
public struct ArtifactFetcher: Sendable {
    /// Where the artifacts are kept.
    public var cache: ArtifactCache
    /// The directory under which apt's private state lives (`apt/<arch>-<sources>/` below it,
    /// as for `AptResolver(cacheDirectory:)`); the directory `lock` used shares its lists.
    public var stateDirectory: String
    /// The target's Debian architecture (`amd64`, `arm64`); locked packages of another
    /// architecture (not `all`) are fetched as `NAME:ARCH=VERSION`.
    public var architecture: String
    /// Where apt's packages come from (default: the host's sources).
    public var aptSources: AptResolver.Sources
    /// The target interpreter's version, `major.minor`, for pip's `--python-version`.
    public var pythonVersion = "3.11"
    /// The target interpreter's implementation tag, for pip's `--implementation`.
    public var pythonImplementation = "cp"
    /// The target glibc's minor version, for the manylinux ladder (Debian bookworm: 36).
    public var glibcMinor = 36
    /// The platform tags pip may accept; `nil` for `PipResolver.manylinuxPlatforms` of
    /// `glibcMinor` and `architecture`.
    public var platforms: [String]?
    /// The pip index to use instead of pip's configured one.
    public var pipIndexURL: String?
    /// Indexes to use besides the main one.
    public var pipExtraIndexURLs: [String] = []
    /// Whether pip reads the host's configuration (`pip.conf`, `PIP_*` variables); when
    /// `false` it sees only the index URLs above.
    public var pipUsesHostConfiguration = true
    /// How to run pip.
    public var pipCommand = ["python3", "-m", "pip"]
    /// A store of locked artifacts asked after the cache and before apt and pip
    /// (`--artifacts-from`); nil for none.
    public var mirror: (any ArtifactMirror)?

    /// A fetcher into `cache` for `architecture`, keeping apt's state under `stateDirectory`.
    public init(cache: ArtifactCache, stateDirectory: String, architecture: String = "amd64", aptSources: AptResolver.Sources = .host) {
        self.cache = cache
        self.stateDirectory = stateDirectory
        self.architecture = architecture
        self.aptSources = aptSources
    }

    /// What a fetch returns.
    public struct FetchedArtifacts: Sendable {
        /// The cached, verified file of every artifact asked for, by SHA-256.
        public var paths: [Digest: String]
        /// How many artifacts were downloaded (the rest were in the cache).
        public var fetchedCount: Int
        /// How many bytes they hold.
        public var fetchedBytes: Int64
    }

    /// Every artifact of `lock`: see `fetch(debs:wheels:offline:image:progress:)`.
    public func fetch(
        _ lock: Lockfile, offline: Bool = false, progress: ProgressSink = .none
    ) async throws -> FetchedArtifacts {
        try await fetch(debs: lock.debs, wheels: lock.wheels, offline: offline, image: lock.image, progress: progress)
    }

    /// Makes `debs` and `wheels` present in the cache and returns the cached path of each, by
    /// SHA-256. Only what the cache lacks (or holds altered) is downloaded: from the ``mirror``
    /// when it holds it, else through apt and pip.
    ///
    /// - Parameters:
    ///   - offline: download nothing; fail, naming what is missing, unless the cache has all.
    ///   - image: the lock's image name, for the advice in errors (`imagegen lock NAME`).
    ///   - progress: one note per step (`apt: fetching 12 debs (34.5 MiB)`, `pip: fetched 117
    ///     wheels`); the bytes of each source's download as `fetch` items (`mirror`, `apt`,
    ///     `pip`), and of the hashing that stores them as `verify` items of the same names.
    /// - Throws: `ArtifactsError.missingFromCache` when offline and something is missing;
    ///   `ArtifactsError.noLongerOffered` when apt's sources no longer have a locked version;
    ///   `ArtifactsError.pipFailed` when pip refuses a wheel whose hash differs from the lock;
    ///   `ArtifactsError.digestMismatch` when a downloaded file is not the locked one; what the
    ///   mirror throws when it cannot be reached or serves other bytes.
    public func fetch(
        debs: [LockedDeb], wheels: [LockedWheel], offline: Bool = false, image: String? = nil,
        progress: ProgressSink = .none
    ) async throws -> FetchedArtifacts {
        let debs = Self.unique(debs, by: \.sha256)
        let wheels = Self.unique(wheels, by: \.sha256)
        let wanted = debs.map { ($0.sha256, $0.size) } + wheels.map { ($0.sha256, $0.size) }

        let cache = self.cache
        let cached = try await Parallel.offPool {
            try Parallel.map(wanted, width: Parallel.processorCount) { digest, size in
                try cache.path(for: digest, size: size).map { (digest, $0) }
            }
        }
        var paths = Dictionary(cached.compactMap { $0 }, uniquingKeysWith: { first, _ in first })
        var missingDebs = debs.filter { paths[$0.sha256] == nil }
        var missingWheels = wheels.filter { paths[$0.sha256] == nil }
        let missing = missingDebs.count + missingWheels.count
        guard missing > 0 else {
            progress("artifacts: all \(Self.count(debs.count, "deb")) and \(Self.count(wheels.count, "wheel")) are in the cache")
            return FetchedArtifacts(paths: paths, fetchedCount: 0, fetchedBytes: 0)
        }
        guard !offline else {
            let names = missingDebs.map(\.fileName) + missingWheels.map(\.fileName)
            throw ArtifactsError.missingFromCache(count: missing, fileNames: Array(names.prefix(5)))
        }
        let bytes = missingDebs.reduce(0) { $0 + $1.size } + missingWheels.reduce(0) { $0 + $1.size }

        if let mirror {
            for (digest, path) in try await fetchFromMirror(mirror, debs: missingDebs, wheels: missingWheels, progress: progress) {
                paths[digest] = path
            }
            missingDebs = missingDebs.filter { paths[$0.sha256] == nil }
            missingWheels = missingWheels.filter { paths[$0.sha256] == nil }
        }
        let debsLeft = missingDebs, wheelsLeft = missingWheels

        // Side by side; the first failure cancels the other side (its tool is killed).
        try await withThrowingTaskGroup(of: [(Digest, String)].self) { group in
            group.addTask { try await fetchDebs(debsLeft, image: image, progress: progress) }
            group.addTask { try await fetchWheels(wheelsLeft, progress: progress) }
            for try await stored in group {
                for (digest, path) in stored { paths[digest] = path }
            }
        }
        return FetchedArtifacts(paths: paths, fetchedCount: missing, fetchedBytes: bytes)
    }

    /// The apt side: this fetcher's state, architecture and sources.
    var apt: AptResolver {
        AptResolver(cacheDirectory: stateDirectory, architecture: architecture, sources: aptSources)
    }

    /// The pip side: this fetcher's target and index options.
    var pip: PipResolver {
        PipResolver(
            pythonVersion: pythonVersion,
            platforms: platforms ?? PipResolver.manylinuxPlatforms(glibcMinor: glibcMinor, architecture: ImageSpec.machine(of: architecture)),
            implementation: pythonImplementation, indexURL: pipIndexURL, extraIndexURLs: pipExtraIndexURLs,
            pipCommand: pipCommand, usesHostConfiguration: pipUsesHostConfiguration)
    }

    /// Downloads `debs` with apt into a temporary directory of the cache and stores them.
    private func fetchDebs(
        _ debs: [LockedDeb], image: String?, progress: ProgressSink
    ) async throws -> [(Digest, String)] {
        guard !debs.isEmpty else { return [] }
        let bytes = debs.reduce(0) { $0 + $1.size }
        progress("apt: fetching \(Self.count(debs.count, "deb")) (\(ByteCount.text(bytes)))")
        let work = try cache.makeTemporaryDirectory("apt")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let files: [(deb: LockedDeb, file: String)]
        do {
            let apt = self.apt
            files = try await DownloadWatch.run(
                ProgressItem(.fetch, "apt"), total: bytes, directory: work, counts: { $0.hasSuffix(".deb") }, sink: progress
            ) { try await apt.download(debs, into: work, image: image) }
        } catch ArtifactsError.noLongerOffered(let packages, let image, _) {
            // Said here, where it is known whether a mirror was asked first.
            throw ArtifactsError.noLongerOffered(packages: packages, image: image, mirror: mirror?.location)
        }
        let stored = try await store(files.map { ($0.file, $0.deb.sha256, $0.deb.size) }, as: "apt", progress: progress)
        progress("apt: fetched \(Self.count(debs.count, "deb"))")
        return stored
    }

    /// Downloads `wheels` with pip into a temporary directory of the cache and stores them.
    private func fetchWheels(
        _ wheels: [LockedWheel], progress: ProgressSink
    ) async throws -> [(Digest, String)] {
        guard !wheels.isEmpty else { return [] }
        let bytes = wheels.reduce(0) { $0 + $1.size }
        progress("pip: fetching \(Self.count(wheels.count, "wheel")) (\(ByteCount.text(bytes)))")
        let work = try cache.makeTemporaryDirectory("pip")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let downloads = "\(work)/files"
        do {
            try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: false)
        } catch {
            throw ArtifactsError.io(path: downloads, reason: error.localizedDescription)
        }
        let files: [(wheel: LockedWheel, file: String)]
        do {
            let pip = self.pip
            // pip downloads every wheel into its temporary directory (below `work`), then
            // copies them into `downloads`: a wheel counts once, by its name.
            files = try await DownloadWatch.run(
                ProgressItem(.fetch, "pip"), total: bytes, directory: work, counts: { $0.hasSuffix(".whl") }, sink: progress
            ) { try await pip.download(wheels, into: downloads, scratch: work) }
        } catch ArtifactsError.pipFailed(let message) where message.contains("No matching distribution") && mirror == nil {
            throw ArtifactsError.pipFailed(
                message: message + "; a wheel the index no longer offers can come from an artifact mirror (--artifacts-from REG/REPO)")
        }
        let stored = try await store(files.map { ($0.file, $0.wheel.sha256, $0.wheel.size) }, as: "pip", progress: progress)
        progress("pip: fetched \(Self.count(wheels.count, "wheel"))")
        return stored
    }

    /// Asks `mirror` for the missing artifacts and stores what it has (hashed again: the cache
    /// trusts no source); returns the cached paths. The rest fall through to apt and pip.
    private func fetchFromMirror(
        _ mirror: any ArtifactMirror, debs: [LockedDeb], wheels: [LockedWheel], progress: ProgressSink
    ) async throws -> [(Digest, String)] {
        let artifacts = debs.map(MirroredArtifact.init) + wheels.map(MirroredArtifact.init)
        guard !artifacts.isEmpty else { return [] }
        let total = artifacts.reduce(0) { $0 + $1.size }
        progress("mirror \(mirror.location): fetching \(Self.count(artifacts.count, "artifact")) (\(ByteCount.text(total)))")
        let work = try cache.makeTemporaryDirectory("mirror")
        defer { try? FileManager.default.removeItem(atPath: work) }
        // What the mirror lacks is never written: the item ends at the bytes of what it held.
        let files = try await DownloadWatch.run(
            ProgressItem(.fetch, "mirror"), total: total, directory: work, sink: progress,
            done: { files in artifacts.filter { files[$0.sha256] != nil }.reduce(0) { $0 + $1.size } }
        ) { try await mirror.fetch(artifacts, into: work) }
        let held = artifacts.filter { files[$0.sha256] != nil }
        let stored = try await store(held.map { (files[$0.sha256]!, $0.sha256, $0.size) }, as: "mirror", progress: progress)  // filtered on the line above
        let left = artifacts.count - held.count
        let rest = left == 0 ? "" : "; \(left) not in the mirror, left to apt and pip"
        progress("mirror: fetched \(held.count) of \(Self.count(artifacts.count, "artifact")) (\(ByteCount.text(held.reduce(0) { $0 + $1.size })))\(rest)")
        return stored
    }

    /// Stores downloaded files, hashing several at once (one per core) off the cooperative pool;
    /// the bytes hashed are the `verify` item `name`.
    private func store(
        _ files: [(path: String, sha256: Digest, size: Int64)], as name: String, progress: ProgressSink
    ) async throws -> [(Digest, String)] {
        guard !files.isEmpty else { return [] }
        let cache = self.cache
        let counter = ProgressCounter(ProgressItem(.verify, name), total: files.reduce(0) { $0 + $1.size }, sink: progress)
        let stored = try await Parallel.offPool {
            try Parallel.map(files, width: Parallel.processorCount) { file in
                defer { counter.add(file.size) }
                return (file.sha256, try cache.store(temporaryFile: file.path, sha256: file.sha256, size: file.size))
            }
        }
        counter.finish()
        return stored
    }

    // MARK: - Helpers

    private static func unique<T>(_ items: [T], by key: (T) -> Digest) -> [T] {
        var seen = Set<Digest>()
        return items.filter { seen.insert(key($0)).inserted }
    }

    /// `1 deb`, `12 debs`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
