import Foundation
import ImageModel
import TestSupport
import Testing

/// `imagegen catalog show` and `catalog refresh` as a user runs them, against a wheel index on
/// 127.0.0.1.
@Suite("imagegen catalog")
struct CatalogCommandTests {
    @Test("refresh writes the file, refresh --check exits 0 after it and 1 naming a removed release, show prints the facts")
    func refreshCheckShow() throws {
        let scratch = try ScratchDirectory()
        let server = try SimpleIndexServer(serving: try TorchIndexFixture(at: scratch("index")).root)
        try writeFile(scratch("catalog.yaml"), try CatalogFixture.handKeptYAML())
        let flags = ["--catalog", scratch("catalog.yaml"), "--index-url", server.baseURL + "/simple", "--no-pip-config"]

        let stale = try imagegen(["catalog", "refresh", "--check"] + flags)
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("torch 2.11.0: on the index"), "\(stale.stderr)")

        let refresh = try imagegen(["catalog", "refresh"] + flags)
        #expect(refresh.status == 0, "\(refresh.stderr)")
        #expect(refresh.stderr.contains("wrote \(scratch("catalog.yaml"))"))

        let check = try imagegen(["catalog", "refresh", "--check"] + flags)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains("catalog: up to date"))

        let text = try String(contentsOfFile: scratch("catalog.yaml"), encoding: .utf8)
        let catalog = try Catalog.load(path: scratch("catalog.yaml"))
        try writeFile(scratch("catalog.yaml"), try CatalogRefresh.yaml(replacingTorchIn: text, with: catalog.torch.filter { $0.version.description != "2.7.1" }))
        let removed = try imagegen(["catalog", "refresh", "--check"] + flags)
        #expect(removed.status == 1)
        #expect(removed.stderr.contains("  torch 2.7.1: on the index (Python 3.12, 3.13, CUDA 12.6, cuDNN 9.5.1.17, NCCL 2.26.2), not in the catalog"))
        #expect(!removed.stderr.contains("torch 2.11.0"))

        let show = try imagegen(["catalog", "show", "torch", "2.11.0", "--catalog", scratch("catalog.yaml")])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("build CUDA 13.0 (default): cuDNN 9.19.0.56, NCCL 2.28.9, triton 3.7.0"))
        #expect(show.stdout.contains("torchvision: 0.26.0"))
        let json = try imagegen(["catalog", "show", "--json", "--catalog", scratch("catalog.yaml")])
        #expect(try JSONDecoder().decode(Catalog.self, from: Data(json.stdout.utf8)).torch.count == 4)

        let unknown = try imagegen(["catalog", "show", "torch", "9.9.9"])
        #expect(unknown.status == 64 && unknown.stderr.contains("torch 9.9.9 is not in the catalog; known: 2.6.0, 2.7.0, 2.7.1, 2.8.0, 2.9.0,"))
    }

    @Test("an unreachable index: exit 1, one line naming the URL")
    func unreachable() throws {
        let result = try imagegen(["catalog", "refresh", "--check", "--index-url", "http://127.0.0.1:9/simple"])
        #expect(result.status == 1)
        #expect(result.stderr.hasSuffix("\n") && result.stderr.contains("Error: cannot read http://127.0.0.1:9/simple/torch/: "), "\(result.stderr)")
    }
}
