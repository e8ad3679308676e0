import Foundation
import ImageModel
import TestSupport
import Testing

@Suite("The spec `imagegen new` derives")
struct NewSpecTests {
    /// A scratch Images directory holding `files` (name → text).
    func images(_ files: [String: String]) throws -> (SpecLoader, ScratchDirectory) {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch("Images"), withIntermediateDirectories: true)
        for (name, text) in files { try writeFile(scratch("Images/\(name).yaml"), text) }
        return (SpecLoader(directory: scratch("Images")), scratch)
    }

    @Test("from the shipped v2.7 and v2.7-devel, which follow the 2.7 series: the release they name (2.7.1) becomes the new one")
    func fromASeriesSpec() throws {
        let (loader, scratch) = try images([:])
        defer { withExtendedLifetime(scratch) {} }
        for name in ["v2.7", "v2.7-devel", "v2.10"] {
            try FileManager.default.copyItem(atPath: "\(packageRoot)/Images/\(name).yaml", toPath: scratch("Images/\(name).yaml"))
        }
        let new = try NewSpec(name: "v2.10-devel", from: "v2.7-devel", torch: nil, loader: loader, catalog: .builtin())
        #expect(new.spec.extends == "v2.10")
        #expect(new.spec.description == "PyTorch 2.10.0 / CUDA 12.8 devel (NVCC and headers) / cuDNN 9 / Python 3.11")
        #expect(new.spec.config.tags == ["v2.10-devel", "2.10.0-cuda12.8-cudnn9-devel-py3.11"])
        #expect(!new.text.contains("2.7.1"), "\(new.text)")
    }

    @Test("v2.8 from v2.7: the torch series from the name, CUDA/cuDNN/NCCL from the catalog, the rest and the comments kept")
    func derive() throws {
        let (loader, scratch) = try images(["v2.7": seriesSpec()])
        defer { withExtendedLifetime(scratch) {} }
        let new = try NewSpec(name: "v2.8", from: "v2.7", torch: nil, loader: loader, catalog: seriesCatalog())
        let spec = new.spec
        #expect(spec.name == "v2.8")
        #expect("\(spec.torch!.version)" == "2.8" && spec.torch?.companions == ["torchvision"])
        #expect("\(spec.cuda!.version)" == "12.8" && spec.cuda?.flavour == .runtime)
        #expect("\(spec.cudnn!.version)" == "9.10.2.21")
        #expect("\(spec.nccl!.version)" == "2.27.3")
        #expect("\(spec.python!.version)" == "3.11")
        // pip requirements are never rewritten, even where they look like an old version.
        #expect(spec.packages.requirements == ["numpy==2.7.0", "scipy>=12.6"])
        #expect(spec.base.packages == ["curl"])
        #expect(spec.config.tags == ["v2.8", "2.8-cuda12.8-py3.11"])
        #expect(spec.config.labels["org.opencontainers.image.title"] == "PyTorch 2.8 (CUDA 12.8)")
        #expect(spec.description == "PyTorch 2.8 / CUDA 12.8 / cuDNN 9.10.2.21 / Python 3.11")

        let lines = new.text.components(separatedBy: "\n")
        #expect(lines[0].hasPrefix("# Made from v2.7.yaml by `imagegen new`: torch 2.8"), "\(lines[0])")
        #expect(lines[1] == "# torch 2.8 on CUDA 12.8 and Python 3.11; `imagegen lock v2.8` pins it.")
        #expect(new.text.contains("  version: \"2.8\"   # follows the series\n"), "\(new.text)")
        #expect(new.text.contains("nccl: {version: 2.27.3}\n"))
        #expect(new.text.contains("  version: 9.10.2.21\n"))
        #expect(new.changes.contains("torch 2.7 → 2.8 (now 2.8.0)"), "\(new.changes)")
        #expect(new.changes.contains("CUDA 12.6 → 12.8"))
        #expect(new.changes.contains("Python 3.11 kept: torch 2.8.0 has cp311 wheels"))
        #expect(try ImageResolver(catalog: seriesCatalog()).resolve(spec).torch.map { "\($0.version)" } == "2.8.0")
    }

    @Test("--torch: an exact release pins it; OLD's Python is replaced by the newest the release has when it has no wheels for it")
    func exactAndPython() throws {
        let (loader, scratch) = try images(["old": seriesSpec(name: "old", torch: "2.7.0", python: "3.9")])
        defer { withExtendedLifetime(scratch) {} }
        let new = try NewSpec(name: "lab", from: "old", torch: "2.8.0", loader: loader, catalog: seriesCatalog())
        #expect("\(new.spec.torch!.version)" == "2.8.0" && new.spec.torch?.series == nil)
        #expect("\(new.spec.python!.version)" == "3.13")
        #expect(new.changes.contains("Python 3.9 → 3.13: torch 2.8.0 has no cp39 wheels; 3.13 is the newest Python it has"), "\(new.changes)")
        #expect(new.spec.config.tags == ["lab", "2.8-cuda12.8-py3.13"])
    }

    @Test("refusals, each one sentence", arguments: [
        ("v2.9", "v2.7", nil, "v2.9: torch 2.9 (from the name v2.9) is not a series the catalog knows; known series: 2.6, 2.7, 2.8"),
        ("lab", "v2.7", "2.9.0", "lab: torch 2.9.0 (--torch) is not in the catalog; known: 2.6.0, 2.7.0, 2.7.1, 2.8.0"),
        ("v2.8", "v2.5", nil, "Images/v2.5.yaml: no such spec; known specs: v2.7"),
        ("lab", "v2.7", nil, "Images/lab.yaml: 'lab' names no torch series; pass --torch SERIES"),
        ("v2.7", "v2.7", nil, "Images/v2.7.yaml: a new spec cannot be made from itself"),
    ] as [(String, String, String?, String)])
    func refusals(_ name: String, _ old: String, _ torch: String?, _ message: String) throws {
        let (loader, scratch) = try images(["v2.7": seriesSpec()])
        defer { withExtendedLifetime(scratch) {} }
        #expect {
            try NewSpec(name: name, from: old, torch: torch, loader: loader, catalog: seriesCatalog())
        } throws: { error in
            let text = "\(error)".replacingOccurrences(of: scratch("Images"), with: "Images")
            return text.hasPrefix(message) && !text.contains("\n")
        }
    }

    @Test("a result that contradicts the catalog is refused with the resolver's sentence")
    func contradiction() throws {
        // OLD pins a CUDA 12.6 runtime wheel; torch 2.8.0 is a CUDA 12.8 build.
        let old = seriesSpec().replacingOccurrences(of: "  flavour: runtime\n", with: "  flavour: runtime\n  pins: {nvidia-cuda-runtime-cu12: 12.6.77}\n")
        let (loader, scratch) = try images(["v2.7": old])
        defer { withExtendedLifetime(scratch) {} }
        #expect(try ImageResolver(catalog: seriesCatalog()).resolve(loader.load("v2.7")).torch != nil)
        #expect {
            try NewSpec(name: "v2.8", from: "v2.7", torch: nil, loader: loader, catalog: seriesCatalog())
        } throws: { "\($0)".hasPrefix("v2.8: cuda.pins: nvidia-cuda-runtime-cu12 12.6.77 (\(scratch("Images/v2.8.yaml")), line 11) is not a CUDA 12.8 wheel") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("Images")) == ["v2.7.yaml"])
    }

    @Test("a spec that extends another: refused until the parent's successor exists, then it extends that")
    func extends() throws {
        let child = """
            # v2.7 with NVCC.
            name: v2.7-devel
            extends: v2.7
            cuda:
              flavour: devel
            config:
              tags: [v2.7-devel]

            """
        let (loader, scratch) = try images(["v2.7": seriesSpec(), "v2.7-devel": child])
        defer { withExtendedLifetime(scratch) {} }
        #expect {
            try NewSpec(name: "v2.8-devel", from: "v2.7-devel", torch: nil, loader: loader, catalog: seriesCatalog())
        } throws: {
            "\($0)".hasSuffix("v2.7-devel extends v2.7, so v2.8-devel extends v2.8, which does not exist; make it first "
                + "(imagegen new v2.8 --from v2.7), then run this again")
        }
        let parent = try NewSpec(name: "v2.8", from: "v2.7", torch: nil, loader: loader, catalog: seriesCatalog())
        try writeFile(scratch("Images/v2.8.yaml"), parent.text)
        let new = try NewSpec(name: "v2.8-devel", from: "v2.7-devel", torch: nil, loader: loader, catalog: seriesCatalog())
        #expect(new.text.contains("\nextends: v2.8\n"), "\(new.text)")
        #expect(new.text.contains("# v2.8 with NVCC.\n"))
        #expect(new.spec.cuda?.flavour == .devel && "\(new.spec.cuda!.version)" == "12.8")
        #expect(new.spec.config.tags == ["v2.8-devel"])
        // A parent whose name follows no series cannot be followed.
        let plain = child.replacingOccurrences(of: "extends: v2.7", with: "extends: base")
        let (other, otherScratch) = try images(["base": seriesSpec(name: "base"), "lab": plain.replacingOccurrences(of: "v2.7-devel", with: "lab")])
        defer { withExtendedLifetime(otherScratch) {} }
        #expect {
            try NewSpec(name: "lab2", from: "lab", torch: "2.8", loader: other, catalog: seriesCatalog())
        } throws: { "\($0)".contains("lab takes torch.version from base (") }
    }
}
