@testable import Artifacts
import Foundation
import ImageModel
import OCI
import struct SystemSupport.ProcessOutput
import Synchronization
import enum SystemSupport.ProgressEvent
import struct SystemSupport.ProgressItem
import struct SystemSupport.ProgressSink
import Testing
import TestSupport

@Suite("ArtifactFetcher against a local repository and index")
struct FetcherTests {
    /// A Debian repository and a wheel index served on 127.0.0.1, and a fetcher into a fresh
    /// cache that sees only them.
    final class Served {
        let scratch: ScratchDirectory
        let repository: DebianRepositoryFixture
        let index: WheelIndexFixture
        let repositoryServer: LocalHTTPServer
        let indexServer: LocalHTTPServer
        let cache: ArtifactCache

        init(packages: [DebianRepositoryFixture.Package] = DebianRepositoryFixture.defaultPackages) throws {
            scratch = try ScratchDirectory("imagegen-fetch")
            repository = try DebianRepositoryFixture(at: scratch("repo"), packages: packages)
            index = try WheelIndexFixture(at: scratch("index"))
            repositoryServer = try LocalHTTPServer(serving: repository.root)
            indexServer = try LocalHTTPServer(serving: index.root)
            cache = try ArtifactCache(directory: scratch("artifacts"))
        }

        var fetcher: ArtifactFetcher {
            var fetcher = ArtifactFetcher(
                cache: cache, stateDirectory: scratch("state"), architecture: "amd64",
                aptSources: .lines(["deb [trusted=yes] \(repositoryServer.baseURL)/ ./"]))
            fetcher.pythonVersion = "3.11"
            fetcher.pipIndexURL = "\(indexServer.baseURL)/simple"
            fetcher.pipUsesHostConfiguration = false
            return fetcher
        }

        /// A lock entry for a fixture package, with the file's real size and SHA-256.
        func deb(_ name: String, _ version: String) throws -> LockedDeb {
            let package = try #require(repository.packages.first { $0.name == name && $0.version == version })
            let path = try repository.poolPath(name, version)
            let expected = try repository.expected(path)
            return LockedDeb(
                component: .base, name: name, version: version, architecture: package.architecture,
                fileName: package.fileName, path: path, size: expected.size, sha256: try Digest(parsing: expected.sha256))
        }

        /// A lock entry for a fixture wheel, with the file's real size and SHA-256.
        func wheel(_ name: String, _ version: String) throws -> LockedWheel {
            let wheel = try #require(index.wheels.first { $0.name == name && $0.version == version })
            let expected = try index.expected(wheel.fileName)
            return LockedWheel(
                component: .packages, name: ResolvedWheel.normalize(name), version: version, fileName: wheel.fileName,
                size: expected.size, sha256: try Digest(parsing: expected.sha256))
        }

        /// Two versions of one package (one with an epoch), an `amd64` and an `all` package.
        func someDebs() throws -> [LockedDeb] {
            [
                try deb("imagegen-fixture-app", "1.0"), try deb("imagegen-fixture-lib", "1.0"),
                try deb("imagegen-fixture-lib", "1:2.0"), try deb("imagegen-fixture-base", "0.1"),
            ]
        }

        /// Wheels whose names need normalising.
        func someWheels() throws -> [LockedWheel] {
            [
                try wheel("imagegen-fixture-app", "1.0"), try wheel("Imagegen.Fixture_Lib", "2.0"),
                try wheel("imagegen-fixture-extra", "1.0"),
            ]
        }

        func stopServers() {
            repositoryServer.stop()
            indexServer.stop()
        }

        deinit { stopServers() }
    }

    /// Collects progress: the notes as lines, and every event.
    final class Progress: Sendable {
        private let recorded = Mutex<[ProgressEvent]>([])
        var events: [ProgressEvent] { recorded.withLock { $0 } }
        var all: [String] { events.compactMap { if case .note(let line) = $0 { line } else { nil } } }
        var report: ProgressSink { ProgressSink { event in self.recorded.withLock { $0.append(event) } } }
        func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
    }

    /// Checks that every artifact is returned, under the cache, with the locked bytes.
    func expectComplete(_ paths: [Digest: String], debs: [LockedDeb], wheels: [LockedWheel], cache: ArtifactCache) throws {
        #expect(paths.count == debs.count + wheels.count)
        for (digest, size) in debs.map({ ($0.sha256, $0.size) }) + wheels.map({ ($0.sha256, $0.size) }) {
            let path = try #require(paths[digest])
            #expect(path == cache.entryPath(for: digest))
            let actual = try sha256sum(path)
            #expect(actual.sha256 == digest.description)
            #expect(actual.size == size)
        }
    }

    @Test("debs and wheels are fetched, verified and cached; a second fetch fetches nothing, even with the servers gone")
    func fetchThenFromCache() async throws {
        let served = try Served()
        let debs = try served.someDebs()
        let wheels = try served.someWheels()

        let first = Progress()
        let result = try await served.fetcher.fetch(debs: debs, wheels: wheels, progress: first.report)
        let paths = result.paths
        #expect(result.fetchedCount == 7)
        #expect(result.fetchedBytes == (debs.map(\.size) + wheels.map(\.size)).reduce(0, +))
        try expectComplete(paths, debs: debs, wheels: wheels, cache: served.cache)
        #expect(first.contains("apt: fetching 4 debs ("), "\(first.all)")
        #expect(first.contains("apt: fetched 4 debs"), "\(first.all)")
        #expect(first.contains("pip: fetching 3 wheels ("), "\(first.all)")
        #expect(first.contains("pip: fetched 3 wheels"), "\(first.all)")
        // Each tool's download and the hashing are items of the locked bytes, started and finished.
        let debBytes = debs.map(\.size).reduce(0, +), wheelBytes = wheels.map(\.size).reduce(0, +)
        for (item, total) in [
            (ProgressItem(.fetch, "apt"), debBytes), (ProgressItem(.fetch, "pip"), wheelBytes),
            (ProgressItem(.verify, "apt"), debBytes), (ProgressItem(.verify, "pip"), wheelBytes),
        ] {
            #expect(first.events.contains(.started(item, total: total)), "\(item)")
            #expect(first.events.contains(.finished(item, done: total)), "\(item)")
            let counts = first.events.compactMap { if case .advanced(item, let done, _) = $0 { done } else { nil } }
            #expect(counts == counts.sorted() && counts.allSatisfy { $0 <= total }, "\(item): \(counts)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: served.scratch("artifacts/tmp")).isEmpty)

        let second = Progress()
        let again = try await served.fetcher.fetch(debs: debs, wheels: wheels, progress: second.report)
        #expect(again.paths == paths)
        #expect(again.fetchedCount == 0)
        #expect(!second.contains("fetching"), "\(second.all)")
        #expect(second.all == ["artifacts: all 4 debs and 3 wheels are in the cache"])

        served.stopServers()
        let third = Progress()
        #expect(try await served.fetcher.fetch(debs: debs, wheels: wheels, progress: third.report).paths == paths)
        #expect(!third.contains("fetching"), "\(third.all)")
    }

    @Test("a cached file changed since is found and fetched again, and only it")
    func tamperedIsRefetched() async throws {
        let served = try Served()
        let debs = try served.someDebs()
        let wheels = try served.someWheels()
        let paths = try await served.fetcher.fetch(debs: debs, wheels: wheels).paths

        for digest in [debs[1].sha256, wheels[2].sha256] {
            let path = try #require(paths[digest])
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            try handle.write(contentsOf: Array("tampered".utf8))
            try handle.close()
        }
        let progress = Progress()
        let result = try await served.fetcher.fetch(debs: debs, wheels: wheels, progress: progress.report)
        let again = result.paths
        #expect(again == paths)
        #expect(result.fetchedCount == 2)
        #expect(progress.contains("apt: fetching 1 deb ("), "\(progress.all)")
        #expect(progress.contains("pip: fetching 1 wheel ("), "\(progress.all)")
        try expectComplete(again, debs: debs, wheels: wheels, cache: served.cache)
    }

    @Test("a package of another architecture is asked for as NAME:ARCH=VERSION")
    func foreignArchitecture() async throws {
        let foreign = DebianRepositoryFixture.Package(name: "imagegen-fixture-foreign", version: "2:1.0-1", architecture: "arm64")
        let served = try Served(packages: DebianRepositoryFixture.defaultPackages + [foreign])
        let debs = [try served.deb(foreign.name, foreign.version), try served.deb("imagegen-fixture-app", "1.0")]
        let paths = try await served.fetcher.fetch(debs: debs, wheels: []).paths
        try expectComplete(paths, debs: debs, wheels: [], cache: served.cache)
    }

    @Test("a locked version the sources no longer offer fails before any download, saying what to do")
    func noLongerOffered() async throws {
        let served = try Served()
        var gone = try served.deb("imagegen-fixture-lib", "1.0")
        gone.version = "0.9"
        let debs = [try served.deb("imagegen-fixture-app", "1.0"), gone]

        let error = await #expect(throws: ArtifactsError.self) {
            try await served.fetcher.fetch(debs: debs, wheels: [], image: "v2.7")
        }
        #expect(error == .noLongerOffered(packages: ["imagegen-fixture-lib 0.9 (all)"], image: "v2.7"))
        let text = try #require(error).description
        let advice = ["`imagegen lock v2.7`", "`imagegen update v2.7`", "--apt-sources", "snapshot"]
        for part in ["no longer offer imagegen-fixture-lib 0.9 (all)"] + advice {
            #expect(text.contains(part), "\(text)")
        }
        #expect(try served.cache.path(for: debs[0].sha256, size: debs[0].size) == nil)
    }

    @Test("a deb whose bytes differ from the lock is refused, named, and not cached")
    func debMismatch() async throws {
        let served = try Served()
        var deb = try served.deb("imagegen-fixture-tool", "3.1")
        let real = deb.sha256
        deb.sha256 = Digest.of(Array("not the file".utf8))
        let error = await #expect(throws: ArtifactsError.self) { try await served.fetcher.fetch(debs: [deb], wheels: []) }
        guard case .digestMismatch(let file, let expected, let actual, _, _) = try #require(error) else {
            Issue.record("expected a digest mismatch, got \(String(describing: error))")
            return
        }
        #expect(file.hasPrefix("imagegen-fixture-tool_3.1_all"))
        #expect(expected == deb.sha256)
        #expect(actual == real)
        #expect(try FileManager.default.contentsOfDirectory(atPath: served.scratch("artifacts/sha256")).isEmpty)
    }

    @Test("a wheel whose lock hash differs from the index's file: pip's refusal, naming the wheel; nothing cached")
    func wheelMismatch() async throws {
        let served = try Served()
        let good = try served.wheel("imagegen-fixture-app", "1.0")
        var bad = try served.wheel("Imagegen.Fixture_Lib", "2.0")
        let real = bad.sha256
        bad.sha256 = Digest.of(Array("not the wheel".utf8))

        let error = await #expect(throws: ArtifactsError.self) { try await served.fetcher.fetch(debs: [], wheels: [good, bad]) }
        let text = try #require(error).description
        #expect(text.hasPrefix("pip failed: the index's files do not match the lock's hashes"), "\(text)")
        #expect(text.contains("imagegen-fixture-lib==2.0 (imagegen_fixture_lib-2.0-py3-none-any.whl)"), "\(text)")
        #expect(text.contains(bad.sha256.encoded), "\(text)")
        #expect(text.contains(real.encoded), "\(text)")
        #expect(!text.contains("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: served.scratch("artifacts/sha256")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: served.scratch("artifacts/tmp")).isEmpty)
    }

    @Test("offline: an empty cache is a clear error, a full one is enough")
    func offline() async throws {
        let served = try Served()
        let debs = try served.someDebs()
        let wheels = try served.someWheels()

        let error = await #expect(throws: ArtifactsError.self) {
            try await served.fetcher.fetch(debs: debs, wheels: wheels, offline: true)
        }
        #expect(error == .missingFromCache(count: 7, fileNames: Array((debs.map(\.fileName) + wheels.map(\.fileName)).prefix(5))))
        let text = try #require(error).description
        #expect(text.hasPrefix("offline, but 7 artifacts are not in the cache (imagegen-fixture-app_1.0_amd64.deb, "), "\(text)")
        #expect(text.contains(", and 2 more); run without --offline to fetch them"), "\(text)")

        _ = try await served.fetcher.fetch(debs: debs, wheels: wheels)
        served.stopServers()
        let progress = Progress()
        let paths = try await served.fetcher.fetch(debs: debs, wheels: wheels, offline: true, progress: progress.report).paths
        try expectComplete(paths, debs: debs, wheels: wheels, cache: served.cache)

        // One missing entry is named alone.
        try FileManager.default.removeItem(atPath: try #require(paths[wheels[0].sha256]))
        let one = await #expect(throws: ArtifactsError.self) {
            try await served.fetcher.fetch(debs: debs, wheels: wheels, offline: true)
        }
        #expect(try #require(one).description
            == "offline, but 1 artifact is not in the cache (imagegen_fixture_app-1.0-py3-none-any.whl); run without --offline to fetch it")
    }

    @Test("nothing asked, nothing fetched")
    func empty() async throws {
        let scratch = try ScratchDirectory("imagegen-fetch")
        let fetcher = ArtifactFetcher(cache: try ArtifactCache(directory: scratch("artifacts")), stateDirectory: scratch("state"))
        let result = try await fetcher.fetch(debs: [], wheels: [], offline: true)
        #expect(result.paths.isEmpty)
        #expect(result.fetchedCount == 0)
    }
}

@Suite("Fetch error messages")
struct FetchMessageTests {
    @Test("pip's hash refusal becomes one line per wheel")
    func pipHashMismatch() {
        let stderr = """
            ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes. Otherwise, examine the package contents carefully; someone may have tampered with them.
                torch==2.7.0+cu126 from https://example.invalid/whl/torch-2.7.0%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=bbb (from -r /tmp/r.txt (line 1)):
                    Expected sha256 aaa
                         Got        bbb
                jinja2==3.1.6 from https://example.invalid/j/jinja2-3.1.6-py3-none-any.whl (from -r /tmp/r.txt (line 2)):
                    Expected sha256 ccc
                         Got        ddd

            """
        let message = PipResolver.downloadErrorMessage(ProcessOutput(status: .exited(1), stdout: [], stderr: Array(stderr.utf8)))
        #expect(message == "the index's files do not match the lock's hashes, so nothing was cached: "
            + "torch==2.7.0+cu126 (torch-2.7.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl): expected sha256 aaa, got bbb; "
            + "jinja2==3.1.6 (jinja2-3.1.6-py3-none-any.whl): expected sha256 ccc, got ddd")
        let other = PipResolver.downloadErrorMessage(
            ProcessOutput(status: .exited(1), stdout: [], stderr: Array("ERROR: No matching distribution found for torch==9.9\n".utf8)))
        #expect(other == "No matching distribution found for torch==9.9")
    }

    @Test("sizes read as people write them", arguments: [
        (812, "812 B"), (4096, "4.0 KiB"), (36_175_872, "34.5 MiB"), (4_520_000_000, "4.21 GiB"),
    ] as [(Int64, String)])
    func bytes(count: Int64, text: String) {
        #expect(ByteCount.text(count) == text)
    }
}

@Suite("Download progress")
struct DownloadWatchTests {
    @Test("the bytes of a download are those of the matching files at any depth, a file and its copy counted once")
    func bytes() throws {
        let scratch = try ScratchDirectory()
        let fm = FileManager.default
        for directory in ["tmp/pip-unpack-1", "files", "partial"] {
            try fm.createDirectory(atPath: scratch(directory), withIntermediateDirectories: true)
        }
        func write(_ path: String, _ size: Int) { _ = fm.createFile(atPath: scratch(path), contents: Data(count: size)) }
        write("tmp/pip-unpack-1/a-1.0-py3-none-any.whl", 3000)
        write("files/a-1.0-py3-none-any.whl", 1000)  // the copy, under way
        write("tmp/pip-unpack-1/b-2.0-py3-none-any.whl", 500)
        write("requirements.txt", 70)
        write("partial/c_1.0_amd64.deb", 200)
        #expect(DownloadWatch.bytes(under: scratch.path, counts: { $0.hasSuffix(".whl") }) == 3500)
        #expect(DownloadWatch.bytes(under: scratch.path, counts: { $0.hasSuffix(".deb") }) == 200)
        #expect(DownloadWatch.bytes(under: scratch("missing"), counts: { _ in true }) == 0)
    }
}
