import Artifacts
import Foundation
import OCI
import Testing
import TestSupport

@Suite("AptResolver against a local repository")
struct AptResolverTests {
    /// A repository served on 127.0.0.1, and a resolver for it with its own cache.
    final class Served {
        let scratch: ScratchDirectory
        let repository: DebianRepositoryFixture
        let server: LocalHTTPServer

        init(withoutSHA256: Bool = false) throws {
            scratch = try ScratchDirectory("imagegen-apt")
            repository = try DebianRepositoryFixture(at: scratch("repo"), withoutSHA256: withoutSHA256)
            server = try LocalHTTPServer(serving: repository.root)
        }

        var sourceLine: String { "deb [trusted=yes] \(server.baseURL)/ ./" }

        func resolver(_ sources: AptResolver.Sources? = nil) -> AptResolver {
            AptResolver(cacheDirectory: scratch("cache"), architecture: "amd64", sources: sources ?? .lines([sourceLine]))
        }

        deinit { server.stop() }
    }

    @Test("the closure has the dependency, apt's chosen versions, sizes and SHA-256 of the files")
    func closure() async throws {
        let served = try Served()
        let resolved = try await served.resolver().resolve([AptPackageRequest(parsing: "imagegen-fixture-app")])

        #expect(resolved.map(\.name) == ["imagegen-fixture-app", "imagegen-fixture-lib"])
        #expect(resolved.map(\.version) == ["1.0", "1:2.0"])
        #expect(resolved.map(\.architecture) == ["amd64", "all"])
        #expect(resolved.map(\.poolPath) == [
            "pool/imagegen-fixture-app_1.0_amd64.deb", "pool/imagegen-fixture-lib_2.0_all.deb",
        ])
        #expect(resolved.map(\.fileName) == ["imagegen-fixture-app_1.0_amd64.deb", "imagegen-fixture-lib_2.0_all.deb"])
        for deb in resolved {
            let expected = try served.repository.expected(deb.poolPath)
            #expect(deb.sha256.description == expected.sha256)
            #expect(deb.size == expected.size)
        }
        // Recommends stay out, and so does the base system unless asked for.
        #expect(!resolved.contains { $0.name == "imagegen-fixture-tool" || $0.name == "imagegen-fixture-base" })

        let again = try await served.resolver().resolve([AptPackageRequest(parsing: "imagegen-fixture-app")])
        #expect(again == resolved)
    }

    @Test("a deb822 sources file gives the same answer as the one-line entry")
    func deb822Sources() async throws {
        let served = try Served()
        let file = served.scratch("imagegen-test.sources")
        try writeFile(file, """
            # A flat repository: the suite is a path, there are no components.
            Types: deb
            URIs: \(served.server.baseURL)/
            Suites: ./
            Trusted: yes

            """)
        let request = try AptPackageRequest(parsing: "imagegen-fixture-app")
        let fromFile = try await served.resolver(.file(path: file)).resolve([request])
        let fromLine = try await served.resolver().resolve([request])
        #expect(fromFile == fromLine)
        #expect(AptResolver.Sources(argument: file) == .file(path: file))
        #expect(AptResolver.Sources(argument: served.sourceLine) == .lines([served.sourceLine]))
    }

    @Test("a pinned version is honoured and the base system adds Essential and required packages")
    func pinAndBaseSystem() async throws {
        let served = try Served()
        let resolved = try await served.resolver().resolve(
            [AptPackageRequest(parsing: "imagegen-fixture-app"), AptPackageRequest(parsing: "imagegen-fixture-lib=1.0")],
            includeBaseSystem: true)
        #expect(resolved.map(\.name) == [
            "imagegen-fixture-app", "imagegen-fixture-base", "imagegen-fixture-lib", "imagegen-fixture-tool",
        ])
        let lib = try #require(resolved.first { $0.name == "imagegen-fixture-lib" })
        #expect(lib.version == "1.0")
        #expect(lib.poolPath == (try served.repository.poolPath("imagegen-fixture-lib", "1.0")))
        #expect(lib.sha256.description == (try served.repository.expected(lib.poolPath)).sha256)
    }

    @Test("an unknown package fails with apt's own line naming it")
    func unknownPackage() async throws {
        let served = try Served()
        let error = await #expect(throws: ArtifactsError.self) {
            try await served.resolver().resolve([AptPackageRequest(parsing: "imagegen-fixture-nope")])
        }
        let text = try #require(error).description
        #expect(text.contains("Unable to locate package imagegen-fixture-nope"), "\(text)")
        #expect(!text.contains("\n"))
    }

    @Test("an unknown version and an unmet dependency fail with apt's explanation")
    func unsatisfiable() async throws {
        let served = try Served()
        let resolver = served.resolver()
        let version = await #expect(throws: ArtifactsError.self) {
            try await resolver.resolve([AptPackageRequest(parsing: "imagegen-fixture-lib=9.9")])
        }
        #expect(try #require(version).description.contains("'9.9' for 'imagegen-fixture-lib' was not found"))
        let broken = await #expect(throws: ArtifactsError.self) {
            try await resolver.resolve([AptPackageRequest(parsing: "imagegen-fixture-broken")])
        }
        #expect(try #require(broken).description.contains("imagegen-fixture-missing"), "\(String(describing: broken))")
    }

    @Test("a list without SHA256 fields cannot be locked")
    func missingSHA256() async throws {
        let served = try Served(withoutSHA256: true)
        let error = await #expect(throws: ArtifactsError.self) {
            try await served.resolver().resolve([AptPackageRequest(parsing: "imagegen-fixture-lib=1.0")])
        }
        #expect(error == .missingChecksum(package: "imagegen-fixture-lib", version: "1.0"))
    }

    @Test("nothing asked, nothing resolved; a source nobody serves fails in update")
    func emptyAndUnreachable() async throws {
        let scratch = try ScratchDirectory("imagegen-apt")
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        let resolver = AptResolver(
            cacheDirectory: scratch("cache"), sources: .lines(["deb [trusted=yes] http://127.0.0.1:9/ ./"]))
        let error = await #expect(throws: ArtifactsError.self) {
            try await resolver.resolve([AptPackageRequest(parsing: "imagegen-fixture-app")])
        }
        #expect(try #require(error).description.hasPrefix("apt-get update failed:"), "\(String(describing: error))")
    }
}

@Suite("Apt requests")
struct AptPackageRequestTests {
    @Test("name and name=version parse", arguments: [
        ("libc6", "libc6", nil), ("python3.11=3.11.2-6+deb12u6", "python3.11", "3.11.2-6+deb12u6"),
        ("g++", "g++", nil), ("lib=1:2.0~rc1-1", "lib", "1:2.0~rc1-1"),
    ] as [(String, String, String?)])
    func parses(text: String, name: String, version: String?) throws {
        let request = try AptPackageRequest(parsing: text)
        #expect(request.name == name)
        #expect(request.version == version)
        #expect(request.description == text)
    }

    @Test("malformed requests are refused", arguments: ["", "a", "-oFoo=1", "Libc6", "libc6=", "libc6=abc", "lib c", "libc6=1 2"])
    func refuses(text: String) {
        #expect(throws: ArtifactsError.self) { try AptPackageRequest(parsing: text) }
    }
}
