import Foundation
import ImageModel
import OCI
import TestSupport
import Testing

@Suite("Specs that follow a torch series")
struct SeriesTests {
    /// Loads `text` as `Images/NAME.yaml` in a scratch directory.
    func load(_ text: String, name: String = "v2.7") throws -> (ImageSpec, ScratchDirectory) {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("Images/\(name).yaml"), text)
        return (try SpecLoader(directory: scratch("Images")).load(name), scratch)
    }

    @Test("torch \"2.7\" resolves to the newest 2.7 release, and explain names the fact")
    func newest() throws {
        let (spec, _) = try load(seriesSpec())
        #expect(spec.torch?.series == TorchSeries(major: 2, minor: 7))
        let image = try ImageResolver(catalog: seriesCatalog()).resolve(spec)
        #expect(image.torch.map { "\($0.version)" } == "2.7.1")
        #expect(image.pipRequirements[.torch] == ["torch==2.7.1", "torchvision==0.0.271"])
        #expect(image.graph.node(.torch)?.label == "2.7.1 + torchvision")
        let fact = try #require(image.explanations.first { $0.component == .torch && $0.choice.contains("series") })
        #expect(fact.choice == "2.7 series → 2.7.1, the newest 2.7 release in the catalog")
        #expect(fact.reason.contains("the catalog's 2.7 releases: 2.7.0 and 2.7.1"), "\(fact.reason)")
        // Without 2.7.1 in the catalog the same spec gets 2.7.0.
        #expect(try ImageResolver(catalog: seriesCatalog(without: ["2.7.1"])).resolve(spec).torch.map { "\($0.version)" } == "2.7.0")
    }

    @Test("an exact 2.7.0 still pins exactly", arguments: ["2.7.0", "\"2.7.0\""])
    func exact(_ version: String) throws {
        let (spec, _) = try load(seriesSpec(torch: version))
        #expect(spec.torch?.series == nil)
        let image = try ImageResolver(catalog: seriesCatalog()).resolve(spec)
        #expect(image.torch.map { "\($0.version)" } == "2.7.0")
        #expect(image.pipRequirements[.torch]?.first == "torch==2.7.0")
        #expect(!image.explanations.contains { $0.choice.contains("series") })
    }

    @Test("resolved for its lock, a series spec gets the release the lock holds")
    func locked() throws {
        let (spec, _) = try load(seriesSpec())
        let image = try ImageResolver(catalog: seriesCatalog()).resolve(spec, lockedTorch: try PEP440Version(parsing: "2.7.0"))
        #expect(image.torch.map { "\($0.version)" } == "2.7.0")
        #expect(image.explanations.contains { $0.choice == "2.7 series → 2.7.0, the release the lock holds" && $0.reason.contains("2.7.1") })
        // A locked release the catalog no longer lists is one sentence.
        #expect {
            try ImageResolver(catalog: seriesCatalog(without: ["2.7.0"])).resolve(spec, lockedTorch: try PEP440Version(parsing: "2.7.0"))
        } throws: { "\($0)".contains("the lock holds torch 2.7.0, which is not a 2.7 release in the catalog (2.7.1)") }
    }

    @Test("a series the catalog does not know is one line naming the file, line, value and the known series")
    func unknown() throws {
        let (spec, scratch) = try load(seriesSpec(torch: "\"2.9\""))
        let error = #expect(throws: ConflictError.self) { try ImageResolver(catalog: seriesCatalog()).resolve(spec) }
        let text = "\(try #require(error))"
        #expect(text == "v2.7: torch 2.9 (\(scratch("Images/v2.7.yaml")), line 16) is not a series the catalog knows; known series: 2.6, 2.7, 2.8")
        #expect(!text.contains("\n"))
    }

    /// A lock of `spec` holding torch `torch`.
    func lock(_ spec: ImageSpec, torch: String) throws -> Lockfile {
        let digest = Digest.of(Array("a wheel".utf8))
        return Lockfile(
            image: spec.name, specDigest: try Lockfile.digest(of: spec), platform: "linux/amd64", components: [:], debs: [],
            wheels: [LockedWheel(component: .torch, name: "torch", version: torch, fileName: "torch-\(torch)-py3-none-any.whl", size: 1, sha256: digest)])
    }

    @Test("a series lock is fresh with the newest release of the series, stale with a sentence otherwise")
    func staleness() throws {
        let (spec, _) = try load(seriesSpec())
        let catalog = try seriesCatalog()
        #expect(try lock(spec, torch: "2.7.1").staleness(for: spec, catalog: catalog) == nil)
        let stale = try #require(try lock(spec, torch: "2.7.0").staleness(for: spec, catalog: catalog))
        #expect(stale.hasPrefix("stale, it holds torch 2.7.0 but the newest 2.7 release in the catalog is 2.7.1"), "\(stale)")
        #expect(stale.hasSuffix("run `imagegen update v2.7`"))
        // Without 2.7.1 in the catalog, 2.7.0 is the newest: fresh.
        #expect(try lock(spec, torch: "2.7.0").staleness(for: spec, catalog: seriesCatalog(without: ["2.7.1"])) == nil)
        // An exact spec's lock is fresh whatever the catalog adds; a changed spec is stale.
        let (exact, _) = try load(seriesSpec(torch: "2.7.0"))
        #expect(try lock(exact, torch: "2.7.0").staleness(for: exact, catalog: catalog) == nil)
        #expect(try lock(exact, torch: "2.7.0").staleness(for: spec, catalog: catalog)?.hasPrefix("stale, the spec changed") == true)
    }

    @Test("update's sentence when a series lock moves")
    func move() throws {
        let (spec, _) = try load(seriesSpec())
        let old = try lock(spec, torch: "2.7.0"), new = try lock(spec, torch: "2.7.1")
        #expect(new.seriesMove(from: old, spec: spec) == "torch 2.7 series → 2.7.1, the newest 2.7 release in the catalog (the lock held 2.7.0)")
        #expect(new.seriesMove(from: new, spec: spec) == nil)
        let (exact, _) = try load(seriesSpec(torch: "2.7.0"))
        #expect(new.seriesMove(from: old, spec: exact) == nil)
    }
}
