import Foundation
import SystemSupport
import ImageModel
import OCI
import FoundationNetworking

/// Reads every torch release from 2.6 on, and its torchvision and torchaudio, from a package
/// index's metadata (no wheel is downloaded) into catalog releases (`imagegen catalog refresh`).
public enum CatalogRefresher {
    /// How many metadata files are read at once.
    static let concurrency = 8

    /// What a refresh found.
    public struct Result: Sendable {
        /// The torch releases the index has, joined with the catalog's knowledge of them.
        public var releases: [TorchRelease]
        /// How many metadata files were read (facts whose wheel is unchanged are reused).
        public var metadataRead: Int
    }

    /// The torch releases on `index`, each joined with what `current` knows of it.
    public static func refresh(
        index: SimpleIndex, current: Catalog, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> Result {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }

        let torchFiles = try await index.files(of: "torch", session: session)
        let byVersion = releasesOnIndex(torchFiles).filter { $0.key >= CatalogRefresh.oldestTorch }
        progress("index: \(byVersion.count) torch releases from \(CatalogRefresh.oldestTorch) on (\(torchFiles.count) torch files)")

        // The wheels whose metadata says what a release pins: one per Linux machine.
        var toRead: [SimpleIndex.File] = []
        var known: [String: [String]] = [:]  // "file sha256" → pins already in the catalog
        for release in current.torch {
            for wheel in release.wheels ?? [] { known["\(wheel.file) \(wheel.sha256)"] = wheel.pins }
        }
        let chosen = byVersion.mapValues(metadataWheels)
        for file in chosen.values.flatMap({ $0 }) where known[key(file)] == nil { toRead.append(file) }

        // The companions: newest first, until one pins a torch older than the catalog follows.
        var companionPins: [CatalogRefresh.CompanionPin] = []
        var read = 0
        for project in CatalogRefresh.companions {
            let files = try await index.files(of: project, session: session)
            let versions = releasesOnIndex(files).sorted { $0.key > $1.key }
            var knownCompanion: [String: PEP440Version] = [:]  // source → torch
            for release in current.torch {
                if let source = release.companionSources?[project] {
                    knownCompanion[source.components(separatedBy: " Requires-Dist").first ?? source] = release.version
                }
            }
            var batchStart = 0
            scan: while batchStart < versions.count {
                let batch = versions[batchStart..<min(batchStart + concurrency, versions.count)]
                batchStart += concurrency
                var wanted: [(PEP440Version, SimpleIndex.File)] = []
                for (version, files) in batch {
                    guard let file = metadataWheels(files).first ?? files.first(where: \.hasMetadata) ?? files.first else { continue }
                    if let torch = knownCompanion[companionSource(file)] {
                        companionPins.append(.init(project: project, version: version, torch: torch, source: companionSourceText(file, torch: torch)))
                    } else {
                        wanted.append((version, file))
                    }
                }
                let metadata = try await readAll(wanted.map(\.1), index: index, session: session)
                read += wanted.count
                for (version, file) in wanted {
                    let pins = SimpleIndex.headers("Requires-Dist", in: metadata[key(file)] ?? "").compactMap(Requirement.init)
                    guard let torchPin = pins.first(where: { $0.name == "torch" && !$0.needsExtra })?.pinnedVersion,
                          let torch = try? PEP440Version(parsing: torchPin) else { continue }
                    companionPins.append(.init(project: project, version: version, torch: torch, source: companionSourceText(file, torch: torch)))
                }
                if companionPins.contains(where: { $0.project == project && $0.torch < CatalogRefresh.oldestTorch }) { break scan }
            }
        }

        progress("index: reading \(toRead.count) torch metadata files (\(chosen.values.map(\.count).reduce(0, +) - toRead.count) unchanged)")
        let torchMetadata = try await readAll(toRead, index: index, session: session)
        read += toRead.count

        var releases: [TorchRelease] = []
        for (version, files) in byVersion.sorted(by: { $0.key < $1.key }) {
            let wheels = (chosen[version] ?? []).map { file in
                CatalogRefresh.TorchWheel(
                    file: file.fileName, sha256: file.sha256 ?? "",
                    requiresDist: known[key(file)] ?? SimpleIndex.headers("Requires-Dist", in: torchMetadata[key(file)] ?? ""))
            }
            releases.append(
                CatalogRefresh.release(
                    version: version, fileNames: files.map(\.fileName), wheels: wheels, companions: companionPins,
                    existing: current.torch(version)))
        }
        return Result(releases: releases, metadataRead: read)
    }

    /// The index's wheels grouped by final release (no pre-releases, no local versions), yanked
    /// files left out.
    static func releasesOnIndex(_ files: [SimpleIndex.File]) -> [PEP440Version: [SimpleIndex.File]] {
        var result: [PEP440Version: [SimpleIndex.File]] = [:]
        for file in files where !file.yanked {
            guard let name = WheelFileName(file.fileName), !name.version.isPrerelease, name.version.local == nil else { continue }
            result[name.version, default: []].append(file)
        }
        return result
    }

    /// The wheels of one release whose metadata to read: per Linux machine (x86_64 first), one
    /// whose metadata the index serves, for the newest CPython, a free-threaded build only when
    /// there is no other.
    static func metadataWheels(_ files: [SimpleIndex.File]) -> [SimpleIndex.File] {
        var best: [String: (SimpleIndex.File, WheelFileName)] = [:]
        for file in files {
            guard let name = WheelFileName(file.fileName), let machine = name.linuxMachine else { continue }
            if let (chosen, current) = best[machine], rank(file, name) <= rank(chosen, current) { continue }
            best[machine] = (file, name)
        }
        return best.sorted { ($0.key == "x86_64" ? "" : $0.key) < ($1.key == "x86_64" ? "" : $1.key) }.map(\.value.0)
    }

    /// A wheel whose metadata the index serves ranks first, a free-threaded build below any
    /// other, then the newer CPython wins.
    static func rank(_ file: SimpleIndex.File, _ name: WheelFileName) -> (Int, Int, Int, Int) {
        let newest = name.cpythonVersions.max()
        return (file.hasMetadata ? 1 : 0, name.isFreeThreaded ? 0 : 1, newest?.major ?? 0, newest?.minor ?? 0)
    }

    static func key(_ file: SimpleIndex.File) -> String { "\(file.fileName) \(file.sha256 ?? "")" }

    static func companionSource(_ file: SimpleIndex.File) -> String {
        "\(file.fileName) (sha256:\(file.sha256 ?? "?"))"
    }

    static func companionSourceText(_ file: SimpleIndex.File, torch: PEP440Version) -> String {
        companionSource(file) + " Requires-Dist: torch==\(torch)"
    }

    /// Reads metadata files, `concurrency` at a time, keyed by `key(file)`.
    static func readAll(_ files: [SimpleIndex.File], index: SimpleIndex, session: URLSession) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            var result: [String: String] = [:]
            var pending = files[...]
            func startNext() {
                guard let next = pending.popFirst() else { return }
                group.addTask { (key(next), try await index.metadata(of: next, session: session)) }
            }
            for _ in 0..<concurrency { startNext() }
            while let (name, text) = try await group.next() {
                result[name] = text
                startNext()
            }
            return result
        }
    }

    /// The index to read: `explicit` (a flag or `IMAGEGEN_PIP_INDEX_URL`), else pip's own
    /// configuration (`PIP_INDEX_URL`, then `pip config list`'s `index-url`) unless
    /// `usesHostConfiguration` is off, else PyPI.
    public static func indexURL(explicit: String?, usesHostConfiguration: Bool) async -> String {
        if let explicit { return explicit }
        let pypi = "https://pypi.org/simple"
        guard usesHostConfiguration else { return pypi }
        if let env = ProcessInfo.processInfo.environment["PIP_INDEX_URL"], !env.isEmpty { return env }
        guard let output = try? await Subprocess("python3", ["-m", "pip", "config", "list"]).run(), output.status == .exited(0) else {
            return pypi
        }
        var found: [String: String] = [:]
        for line in output.stdoutText.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let value = line[line.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
            found[String(line[..<eq])] = value
        }
        return found["global.index-url"] ?? found["install.index-url"] ?? found["download.index-url"] ?? pypi
    }
}

extension CatalogRefresher {
    /// What `imagegen catalog refresh` did.
    public struct Report: Codable, Hashable, Sendable {
        /// The index that was read (without credentials).
        public var index: String
        /// The torch releases the index has from 2.6 on.
        public var releases: [String]
        /// What the index has that the catalog lacked, one sentence each; empty when the
        /// catalog was up to date.
        public var differences: [String]
        /// CUDA releases the builds use that the hand-kept driver table lacks.
        public var missingDriverRows: [String]
        /// How many metadata files were read.
        public var metadataRead: Int
        /// The file written; `nil` with `--check` or when nothing changed.
        public var wrote: String?
    }

    /// Refreshes the catalog file at `path` (the built-in text when `nil`, which only `check`
    /// may use): reads the index, lists the differences, and unless `check` writes the file
    /// atomically (a temporary name renamed into place) when its text changes.
    public static func refreshFile(
        path: String?, builtinText: String, indexURL: String, check: Bool, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> Report {
        let text: String
        if let path {
            guard let read = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ArtifactsError.io(path: path, reason: "cannot read the catalog file")
            }
            text = read
        } else {
            text = builtinText
        }
        let current = try Catalog.parse(yaml: text, name: path ?? "built-in catalog")
        let index = SimpleIndex(url: indexURL)
        progress("index: \(SimpleIndex.redacted(index.baseURL)) (metadata only)")
        let result = try await refresh(index: index, current: current, progress: progress)
        let merged = CatalogRefresh.merge(current, releases: result.releases)
        var report = Report(
            index: SimpleIndex.redacted(index.baseURL), releases: result.releases.map(\.version.description),
            differences: CatalogRefresh.differences(current: current, refreshed: result.releases),
            missingDriverRows: CatalogRefresh.missingDriverRows(merged), metadataRead: result.metadataRead, wrote: nil)
        guard !check else { return report }
        guard let path else {
            throw ArtifactsError.invalidRequest(value: "catalog refresh", reason: "the built-in catalog is compiled in: name the file to write with --catalog FILE")
        }
        let updated = try CatalogRefresh.yaml(replacingTorchIn: text, with: merged.torch)
        // The file must read back as the catalog it was written from.
        guard (try? Catalog.parse(yaml: updated, name: path)) == merged else {
            throw ArtifactsError.unexpectedOutput(tool: "catalog refresh", reason: "the written catalog does not read back as the refreshed one")
        }
        if updated != text {
            try AtomicFileWriter.write(Array(updated.utf8), to: path)
            report.wrote = path
        }
        return report
    }
}
