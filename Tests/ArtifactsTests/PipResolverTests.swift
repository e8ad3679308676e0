import Artifacts
import Foundation
import OCI
import Testing
import TestSupport

@Suite("PipResolver against a local index")
struct PipResolverTests {
    /// An index served on 127.0.0.1 and a resolver that sees only it.
    final class Served {
        let scratch: ScratchDirectory
        let index: WheelIndexFixture
        let server: LocalHTTPServer

        init() throws {
            scratch = try ScratchDirectory("imagegen-pip")
            index = try WheelIndexFixture(at: scratch("index"))
            server = try LocalHTTPServer(serving: index.root)
        }

        var resolver: PipResolver {
            PipResolver(
                pythonVersion: "3.11", platforms: PipResolver.manylinuxPlatforms(glibcMinor: 36),
                indexURL: "\(server.baseURL)/simple", usesHostConfiguration: false)
        }

        deinit { server.stop() }
    }

    @Test("the dependency is pulled in, with the file's name, size and SHA-256 and its Requires-Dist")
    func closure() async throws {
        let served = try Served()
        let wheels = try await served.resolver.resolve(["imagegen-fixture-app"])

        // Sorted by normalised name: "Imagegen.Fixture_Lib" sorts after "imagegen-fixture-app".
        #expect(wheels.map(\.name) == ["imagegen-fixture-app", "Imagegen.Fixture_Lib"])
        #expect(wheels.map(\.normalizedName) == ["imagegen-fixture-app", "imagegen-fixture-lib"])
        #expect(wheels.map(\.version) == ["1.0", "2.0"])
        #expect(wheels.map(\.fileName) == [
            "imagegen_fixture_app-1.0-py3-none-any.whl", "imagegen_fixture_lib-2.0-py3-none-any.whl",
        ])
        for wheel in wheels {
            let expected = try served.index.expected(wheel.fileName)
            #expect(wheel.sha256.description == expected.sha256)
            #expect(wheel.size == expected.size)
        }
        #expect(wheels[0].requiresDist == WheelIndexFixture.appRequires)
        #expect(wheels[1].requiresDist == [])

        let again = try await served.resolver.resolve(["imagegen-fixture-app"])
        #expect(again == wheels)
    }

    @Test("a pin picks that version; an extra pulls in its requirement")
    func pinAndExtra() async throws {
        let served = try Served()
        let wheels = try await served.resolver.resolve(["imagegen-fixture-app[cli]", "imagegen-fixture-lib==1.0"])
        #expect(wheels.map(\.normalizedName) == ["imagegen-fixture-app", "imagegen-fixture-extra", "imagegen-fixture-lib"])
        #expect(wheels.last?.version == "1.0")
        #expect(wheels.last?.sha256.description == (try served.index.expected(wheels.last!.fileName)).sha256)
    }

    @Test("an impossible pin fails with pip's own line")
    func impossiblePin() async throws {
        let served = try Served()
        let error = await #expect(throws: ArtifactsError.self) {
            try await served.resolver.resolve(["imagegen-fixture-lib==9.9"])
        }
        let text = try #require(error).description
        #expect(text.contains("No matching distribution found for imagegen-fixture-lib==9.9"), "\(text)")
        #expect(!text.contains("\n"))
    }

    @Test("conflicting pins fail with pip's explanation of the conflict")
    func conflict() async throws {
        let served = try Served()
        let error = await #expect(throws: ArtifactsError.self) {
            try await served.resolver.resolve(["imagegen-fixture-app", "imagegen-fixture-lib==0.9"])
        }
        let text = try #require(error).description
        #expect(text.contains("conflicting dependencies"), "\(text)")
        #expect(text.contains("imagegen-fixture-app 1.0 depends on Imagegen.Fixture_Lib>=1.0"), "\(text)")
        #expect(!text.contains("\n"))
    }

    @Test("requirements that would be options are refused before pip runs", arguments: ["", "--index-url=x", "a\nb"])
    func refusesOptions(requirement: String) async {
        let resolver = PipResolver(pythonVersion: "3.11", platforms: ["any"])
        await #expect(throws: ArtifactsError.self) { try await resolver.resolve([requirement]) }
    }
}

@Suite("Pip helpers")
struct PipHelperTests {
    @Test("the manylinux ladder runs from the given glibc down to 2.5, then the legacy tags")
    func ladder() {
        let tags = PipResolver.manylinuxPlatforms(glibcMinor: 36)
        #expect(tags.count == 32 + 4)
        #expect(tags.first == "manylinux_2_36_x86_64")
        #expect(tags.contains("manylinux_2_28_x86_64"))
        #expect(tags.suffix(5) == [
            "manylinux_2_5_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64",
        ])
        #expect(PipResolver.manylinuxPlatforms(glibcMinor: 17, architecture: "aarch64").first == "manylinux_2_17_aarch64")
    }

    @Test("PEP 503 names", arguments: [
        ("Jinja2", "jinja2"), ("Imagegen.Fixture_Lib", "imagegen-fixture-lib"), ("a__-.b", "a-b"), ("torch", "torch"),
    ])
    func normalize(name: String, expected: String) {
        #expect(ResolvedWheel.normalize(name) == expected)
    }
}
