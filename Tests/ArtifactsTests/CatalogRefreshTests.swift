import Foundation
import FoundationNetworking
import ImageModel
import OCI
import TestSupport
import Testing

@testable import Artifacts

/// `imagegen catalog refresh` against a wheel index on 127.0.0.1 (offline): metadata only,
/// CUDA 12 and CUDA 13 packaging, companions from their own pins, `--check`.
@Suite("Catalog refresh from an index's metadata")
struct CatalogRefreshTests {
    /// A catalog file in `scratch` holding the hand-kept catalog (`CatalogFixture`).
    func builtinCatalogFile(_ scratch: ScratchDirectory) throws -> String {
        try writeFile(scratch("catalog.yaml"), try CatalogFixture.handKeptYAML())
        return scratch("catalog.yaml")
    }

    @Test("refresh writes every release from 2.6 on, with pins, markers, companions and sources; no wheel is fetched",
          arguments: ["html", "json"])
    func refresh(form: String) async throws {
        let scratch = try ScratchDirectory()
        let fixture = try TorchIndexFixture(at: scratch("index"))
        if form == "html" {
            for project in ["torch", "torchvision", "torchaudio"] { try FileManager.default.removeItem(atPath: "\(fixture.root)/simple/\(project)/index.json") }
        }
        let server = try SimpleIndexServer(serving: fixture.root)
        let path = try builtinCatalogFile(scratch)

        let report = try await CatalogRefresher.refreshFile(
            path: path, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple/", check: false)
        #expect(report.releases == ["2.6.0", "2.7.0", "2.7.1", "2.11.0"])
        #expect(report.wrote == path)
        #expect(report.differences.contains { $0.hasPrefix("torch 2.7.1: on the index") })
        #expect(report.differences.contains { $0.hasPrefix("torch 2.11.0: on the index (Python 3.12, 3.13, CUDA 13.0, cuDNN 9.19.0.56, NCCL 2.28.9)") })
        #expect(report.missingDriverRows.isEmpty)
        #expect(!server.requests.contains { $0.hasSuffix(".whl") }, "\(server.requests)")
        #expect(server.requests.contains { $0.hasSuffix(".whl.metadata") })

        let catalog = try Catalog.load(path: path)
        #expect(catalog.torch.map(\.version.description) == ["2.6.0", "2.7.0", "2.7.1", "2.8.0", "2.11.0"])

        // CUDA 12 packaging: the nvidia-*-cu12 pins, x86_64 markers kept, per Linux machine.
        let r271 = try #require(catalog.torch(try PEP440Version(parsing: "2.7.1")))
        #expect(r271.python.map(\.description) == ["3.12", "3.13"])
        #expect(r271.platforms == ["macosx_11_0_arm64", "manylinux_2_28_aarch64", "manylinux_2_28_x86_64", "win_amd64"])
        #expect(r271.companions.mapValues(\.description) == ["torchvision": "0.22.1", "torchaudio": "2.7.1"])
        let sha = Digest.of(Array("not a wheel: torchvision-0.22.1-cp312-cp312-manylinux_2_28_x86_64.whl\n".utf8)).encoded
        #expect(r271.companionSources?["torchvision"] == "torchvision-0.22.1-cp312-cp312-manylinux_2_28_x86_64.whl (sha256:\(sha)) Requires-Dist: torch==2.7.1")
        let build = try #require(r271.defaultBuild)
        #expect(build.cuda.description == "12.6" && build.cudnn.description == "9.5.1.17" && build.nccl.description == "2.26.2")
        #expect(build.triton?.description == "3.3.1")
        #expect(build.source.hasPrefix("torch-2.7.1-cp313-cp313-manylinux_2_28_x86_64.whl (sha256:"))
        let wheels = try #require(r271.wheels)
        #expect(wheels.map(\.file) == ["torch-2.7.1-cp313-cp313-manylinux_2_28_x86_64.whl", "torch-2.7.1-cp312-cp312-manylinux_2_28_aarch64.whl"])
        #expect(wheels[0].pins.contains(#"nvidia-cudnn-cu12==9.5.1.17; platform_system == "Linux" and platform_machine == "x86_64""#))
        #expect(!wheels[0].pins.contains { $0.hasPrefix("filelock") || $0.hasPrefix("opt-einsum") })

        // CUDA 13 packaging: the cuda-toolkit[…] metapackage, -cu13 libraries, Linux-only markers.
        let r211 = try #require(catalog.torch(try PEP440Version(parsing: "2.11.0")))
        let build13 = try #require(r211.defaultBuild)
        #expect(build13.cuda.description == "13.0" && build13.cudnn.description == "9.19.0.56" && build13.nccl.description == "2.28.9")
        #expect(r211.wheels?[0].pins.contains(
            #"cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2; platform_system == "Linux""#) == true)
        #expect(r211.wheels?[0].pins.contains(#"cuda-bindings<14,>=13.0.3; platform_system == "Linux""#) == true)
        #expect(r211.companions.mapValues(\.description) == ["torchvision": "0.26.0", "torchaudio": "2.11.0"])

        // Facts the index does not serve stay: 2.7.0's other CUDA builds, 2.8.0, the driver table.
        let r270 = try #require(catalog.torch(try PEP440Version(parsing: "2.7.0")))
        #expect(r270.builds.map(\.cuda.description) == ["12.6", "11.8", "12.8"])
        #expect(r270.builds.filter(\.isDefault).count == 1)
        let builtin = try Catalog.parse(yaml: try CatalogFixture.handKeptYAML(), name: "hand-kept")
        #expect(catalog.cuda == builtin.cuda && catalog.cudnn == builtin.cudnn && catalog.driverBrands == builtin.driverBrands)
        #expect(catalog.torch(try PEP440Version(parsing: "2.8.0")) == builtin.torch(try PEP440Version(parsing: "2.8.0")))
        // The hand-kept sections keep their comments.
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("# CUDA toolkits and the drivers that run them"))

        // --check passes right after a refresh and reads no metadata again.
        let check = try await CatalogRefresher.refreshFile(
            path: path, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple", check: true)
        #expect(check.differences.isEmpty, "\(check.differences)")
        #expect(check.metadataRead < report.metadataRead)
        // A second refresh writes nothing.
        let again = try await CatalogRefresher.refreshFile(
            path: path, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple", check: false)
        #expect(again.wrote == nil)
    }

    @Test("--check fails, naming the release, when a release is removed from the data file")
    func checkNamesARemovedRelease() async throws {
        let scratch = try ScratchDirectory()
        let server = try SimpleIndexServer(serving: try TorchIndexFixture(at: scratch("index")).root)
        let path = try builtinCatalogFile(scratch)
        _ = try await CatalogRefresher.refreshFile(path: path, builtinText: "", indexURL: server.baseURL + "/simple", check: false)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let catalog = try Catalog.load(path: path)
        try writeFile(path, try CatalogRefresh.yaml(replacingTorchIn: text, with: catalog.torch.filter { $0.version.description != "2.7.1" }))
        let before = try String(contentsOfFile: path, encoding: .utf8)

        let check = try await CatalogRefresher.refreshFile(path: path, builtinText: "", indexURL: server.baseURL + "/simple", check: true)
        #expect(check.differences.count == 1)
        #expect(check.differences.first?.hasPrefix("torch 2.7.1: on the index (Python 3.12, 3.13, CUDA 12.6, cuDNN 9.5.1.17, NCCL 2.26.2), not in the catalog") == true)
        #expect(check.wrote == nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
    }

    @Test("an index without PEP 658 files: each companion's METADATA is read from its wheel by range requests, never the whole wheel")
    func rangeRequests() async throws {
        let scratch = try ScratchDirectory()
        let fixture = try TorchIndexFixture(at: scratch("index"), wheelsOnly: ["torchvision"])
        let server = try SimpleIndexServer(serving: fixture.root)
        let path = try builtinCatalogFile(scratch)

        let report = try await CatalogRefresher.refreshFile(
            path: path, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple", check: false)
        #expect(report.releases == ["2.6.0", "2.7.0", "2.7.1", "2.11.0"])
        let catalog = try Catalog.load(path: path)
        #expect(catalog.torch(try PEP440Version(parsing: "2.7.1"))?.companions["torchvision"]?.description == "0.22.1")
        #expect(catalog.torch(try PEP440Version(parsing: "2.11.0"))?.companions["torchvision"]?.description == "0.26.0")

        // Every wheel read is read by ranges: a HEAD, then parts of a megabyte-sized zip.
        let wheelReads = server.requests.filter { $0.contains(".whl") && !$0.contains(".whl.metadata") }
        #expect(!wheelReads.isEmpty)
        #expect(wheelReads.allSatisfy { $0.hasPrefix("HEAD ") || $0.contains(" bytes=") }, "\(wheelReads)")
        let bytes = wheelReads.compactMap { line -> Int? in
            guard let range = line.split(separator: " ").last, range.hasPrefix("bytes=") else { return nil }
            let ends = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            return ends[0] == nil ? ends[1] : (ends[1] ?? 0) - (ends[0] ?? 0) + 1
        }
        let wheels = Set(wheelReads.map { $0.split(separator: " ").first { $0.hasSuffix(".whl") } ?? "" }).count
        #expect(bytes.reduce(0, +) < wheels * 80_000, "\(bytes.reduce(0, +)) bytes for \(wheels) wheels of over 1 MiB each")
    }

    @Test("an index without PEP 658 files whose server answers no ranges: one line naming the wheel, nothing downloaded")
    func noRanges() async throws {
        let scratch = try ScratchDirectory()
        let fixture = try TorchIndexFixture(at: scratch("index"), wheelsOnly: ["torchvision"])
        let server = try SimpleIndexServer(serving: fixture.root, ranges: false)
        let path = try builtinCatalogFile(scratch)
        let before = try String(contentsOfFile: path, encoding: .utf8)
        await #expect {
            _ = try await CatalogRefresher.refreshFile(path: path, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple", check: false)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(server.baseURL + "/files/torchvision-") && text.contains("does not answer range requests") && !text.contains("\n")
        }
        #expect(!server.requests.contains { $0.hasSuffix(".whl") && !$0.hasPrefix("HEAD ") }, "\(server.requests)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
    }

    @Test("a wheel's METADATA read by ranges: stored, deflated behind a local header with a ZIP64 field, and a damaged zip as one line")
    func remoteZipShapes() async throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch("files"), withIntermediateDirectories: true)
        let script = """
            import sys, zipfile
            meta = "Metadata-Version: 2.1\\nName: pkg\\nVersion: 1.0\\nRequires-Dist: torch==2.7.1\\n\\nText.\\n"
            for name, method, z64 in [("stored", zipfile.ZIP_STORED, False), ("zip64", zipfile.ZIP_DEFLATED, True)]:
                with zipfile.ZipFile(sys.argv[1] + "/pkg-1.0-" + name + "-none-any.whl", "w", allowZip64=True) as z:
                    z.writestr("pkg/a.py", "x = 1\\n")
                    if z64:
                        with z.open(zipfile.ZipInfo("pkg-1.0.dist-info/METADATA", (2020, 1, 1, 0, 0, 0)), "w", force_zip64=True) as f:
                            f.write(meta.encode())
                    else:
                        z.writestr(zipfile.ZipInfo("pkg-1.0.dist-info/METADATA", (2020, 1, 1, 0, 0, 0)), meta, method)
            open(sys.argv[1] + "/pkg-1.0-damaged-none-any.whl", "wb").write(b"PK" + b"\\0" * 200)
            """
        let result = try run("python3", ["-c", script, scratch("files")])
        #expect(result.status == 0, "\(result.stderr)")
        let server = try SimpleIndexServer(serving: scratch.path)
        let index = SimpleIndex(url: server.baseURL + "/simple")
        let session = URLSession(configuration: .ephemeral)
        for shape in ["stored", "zip64"] {
            let file = "pkg-1.0-\(shape)-none-any.whl"
            let text = try await index.metadata(of: Self.file(server, file), session: session)
            #expect(SimpleIndex.headers("Requires-Dist", in: text) == ["torch==2.7.1"], "\(shape)")
        }
        await #expect {
            _ = try await index.metadata(of: Self.file(server, "pkg-1.0-damaged-none-any.whl"), session: session)
        } throws: { error in
            "\(error)".hasPrefix(server.baseURL + "/files/pkg-1.0-damaged-none-any.whl is not a valid package index answer: not a readable wheel: ")
                && !"\(error)".contains("\n")
        }
    }

    static func file(_ server: SimpleIndexServer, _ name: String) -> SimpleIndex.File {
        SimpleIndex.File(
            fileName: name, url: URL(string: server.baseURL + "/files/" + name)!, sha256: nil, hasMetadata: false,
            metadataSHA256: nil, yanked: false)
    }

    @Test("a malformed metadata file is a one-line error naming its URL", arguments: [true, false])
    func malformedMetadata(hashes: Bool) async throws {
        let scratch = try ScratchDirectory()
        let fixture = try TorchIndexFixture(at: scratch("index"), metadataHashes: hashes)
        try fixture.corruptMetadata("torch-2.7.1-cp313-cp313-manylinux_2_28_x86_64.whl", with: "<html>not metadata</html>\n")
        let server = try SimpleIndexServer(serving: fixture.root)
        let url = server.baseURL + "/files/torch-2.7.1-cp313-cp313-manylinux_2_28_x86_64.whl.metadata"
        await #expect {
            _ = try await CatalogRefresher.refreshFile(
                path: nil, builtinText: Catalog.builtinYAML, indexURL: server.baseURL + "/simple", check: true)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(url + " is not a valid package index answer: ") && !text.contains("\n")
                && text.contains(hashes ? "SHA-256" : "no Name and Version")
        }
    }

    @Test("an unreachable index is a one-line error naming the URL")
    func unreachable() async throws {
        await #expect {
            _ = try await CatalogRefresher.refreshFile(
                path: nil, builtinText: Catalog.builtinYAML, indexURL: "http://127.0.0.1:9/simple", check: true)
        } throws: { error in
            "\(error)".hasPrefix("cannot read http://127.0.0.1:9/simple/torch/: ") && !"\(error)".contains("\n")
        }
    }

    @Test("wheel file names and Requires-Dist lines")
    func parsing() throws {
        let name = try #require(WheelFileName("torch-2.7.1-cp313-cp313t-manylinux_2_28_x86_64.whl"))
        #expect(name.isFreeThreaded && name.linuxMachine == "x86_64" && name.cpythonVersions.map(\.description) == ["3.13"])
        #expect(WheelFileName("torch-2.7.1.tar.gz") == nil)
        let toolkit = try #require(Requirement(#"cuda-toolkit[cublas, cudart]==13.0.2; platform_system == "Linux""#))
        #expect(toolkit.name == "cuda-toolkit" && toolkit.extras == ["cublas", "cudart"] && toolkit.pinnedVersion == "13.0.2")
        #expect(toolkit.marker == #"platform_system == "Linux""#)
        #expect(Requirement("cuda-bindings (<14,>=13.0.3)")?.pinnedVersion == nil)
        #expect(Requirement("Nvidia_NCCL.cu12==2.26.2")?.name == "nvidia-nccl-cu12")
    }
}
