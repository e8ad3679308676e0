import Foundation
import ImageModel
import TestSupport
import Testing

/// v2.7's spec text with one line replaced, loaded and resolved against the built-in catalog.
func resolveVariant(of base: String = "v2.7", _ replacements: [(String, String)]) throws -> ResolvedImage {
    var text = try String(contentsOfFile: "\(packageRoot)/Images/\(base).yaml", encoding: .utf8)
    for (old, new) in replacements {
        precondition(text.contains(old), "test bug: '\(old)' is not in \(base).yaml")
        text = text.replacingOccurrences(of: old, with: new)
    }
    let scratch = try ScratchDirectory()
    try writeFile(scratch("Images/\(base).yaml"), text)
    let spec = try SpecLoader(directory: scratch("Images")).load(base)
    return try ImageResolver(catalog: .builtin()).resolve(spec)
}

/// The line number of `text` in Images/v2.7.yaml after the replacement.
func lineOf(_ text: String, in base: String = "v2.7") throws -> Int {
    let original = try String(contentsOfFile: "\(packageRoot)/Images/\(base).yaml", encoding: .utf8)
    let lines = original.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.firstIndex { $0.contains(text) } ?? -1) + 1
}

@Suite("Conflicts are sentences that name the chain and the spec line")
struct ConflictTests {
    /// The conflicts of v2.7 with replacements, the scratch directory shown as `Images/`; v2.7
    /// pinned to torch 2.7.0, the release whose catalog entry has three CUDA builds.
    func conflicts(_ replacements: [(String, String)]) throws -> [String] {
        do {
            _ = try resolveVariant([("  version: \"2.7\"\n", "  version: 2.7.0\n")] + replacements)
            return []
        } catch let error as ConflictError {
            return error.conflicts.map { $0.replacing(#/[^\s(]*/Images/#, with: "Images") }
        }
    }

    func conflicts(replacing old: String, with new: String) throws -> [String] {
        try conflicts([(old, new)])
    }

    @Test("torch 2.7 with CUDA 12.4")
    func torchCUDA() throws {
        let line = try lineOf("version: \"12.6\"")
        #expect(try conflicts(replacing: "version: \"12.6\"", with: "version: \"12.4\"").contains(
            "torch 2.7.0 requires CUDA 12.6, 11.8 or 12.8, but the spec pins CUDA 12.4 (Images/v2.7.yaml, line \(line))"))
    }

    @Test("cuDNN 9.7 with the torch 2.7.0 CUDA 12.6 wheel")
    func cudnn() throws {
        let line = try lineOf("version: 9.5.1.17")
        #expect(try conflicts(replacing: "version: 9.5.1.17", with: "version: 9.7.1.26") == [
            "cuDNN 9.7.1.26 (Images/v2.7.yaml, line \(line)) does not match the torch 2.7.0 CUDA 12.6 wheel, which pins cuDNN 9.5.1.17"
        ])
    }

    @Test("Python 3.8 with torch 2.7")
    func python() throws {
        let line = try lineOf("version: \"3.11\"")
        #expect(try conflicts(replacing: "version: \"3.11\"", with: "version: \"3.8\"") == [
            "torch 2.7.0 has wheels for Python 3.9, 3.10, 3.11, 3.12 and 3.13, but the spec asks for Python 3.8 (Images/v2.7.yaml, line \(line))"
        ])
    }

    @Test("a Debian NCCL package beside the wheel NCCL")
    func twoNCCLs() throws {
        let found = try conflicts(replacing: "packages: [tini, git, curl, less, procps]", with: "packages: [tini, libnccl2]")
        let baseLine = try lineOf("packages: [tini")
        let ncclLine = try lineOf("version: 2.26.2")
        #expect(found == [
            "NCCL would be shipped twice: the Debian package libnccl2 (base.packages, Images/v2.7.yaml, line \(baseLine)) "
                + "and the wheel nvidia-nccl-cu12 2.26.2 (Images/v2.7.yaml, line \(ncclLine)); keep one"
        ])
    }

    @Test("a driver floor below what CUDA needs")
    func driverFloor() throws {
        let found = try conflicts(replacing: "driver: {}", with: "driver:\n  minimum: 470.57.02")
        let line = try lineOf("driver: {}") + 1
        #expect(found == [
            "the driver floor 470.57.02 (Images/v2.7.yaml, line \(line)) is below 525.60.13, the oldest driver that runs "
                + "CUDA 12.6 (minor-version compatibility); raise it or leave it out"
        ])
    }

    @Test("NCCL other than the wheel's pin, and torch in packages")
    func moreConflicts() throws {
        #expect(try conflicts(replacing: "version: 2.26.2", with: "version: 2.21.5").first?.hasPrefix(
            "NCCL 2.21.5 (Images/v2.7.yaml, line") == true)
        #expect(try conflicts(replacing: "packages: [pip]", with: "packages: [pip, torch==2.6.0]").first?.contains(
            "which the torch component already provides") == true)
    }

    @Test("several conflicts are all reported at once")
    func several() throws {
        let found = try conflicts([("version: 9.5.1.17", "version: 9.7.1.26"), ("version: 2.26.2", "version: 2.21.5")])
        #expect(found.count == 2)
        #expect(found[0].hasPrefix("cuDNN 9.7.1.26") && found[1].hasPrefix("NCCL 2.21.5"))
    }

    @Test("torch without Python is a missing component")
    func missingPython() throws {
        let found = try conflicts(replacing: "python:\n  version: \"3.11\"\n", with: "")
        #expect(found.first == "torch needs a Python component (a cp wheel), but the spec has none; add 'python:'")
    }
}

@Suite("The catalog: driver facts and NVIDIA_REQUIRE_CUDA")
struct CatalogTests {
    /// Published in NVIDIA's cuda 12.6.3 base image Dockerfile.
    static let published126 = "cuda>=12.6 " + [470, 535, 550].map { branch in
        ["unknown", "grid", "tesla", "nvidia", "quadro", "quadrortx", "nvidiartx", "vapps", "vpc", "vcs", "vws", "cloudgaming"]
            .map { "brand=\($0),driver>=\(branch),driver<\(branch + 1)" }.joined(separator: " ")
    }.joined(separator: " ")

    @Test("NVIDIA_REQUIRE_CUDA with the cuda-compat libraries, for CUDA 12.6 and 12.8, equals the published strings")
    func nvidiaRequireCUDA() throws {
        let catalog = try Catalog.builtin()
        let cuda126 = try #require(catalog.cuda(try CUDAVersion(parsing: "12.6")))
        #expect(cuda126.nvidiaRequireCUDA(brands: catalog.driverBrands, carriesCUDACompat: true) == Self.published126)
        // The exact published text, spelled out, for the start of the 12.6 string.
        #expect(cuda126.nvidiaRequireCUDA(brands: catalog.driverBrands, carriesCUDACompat: true).hasPrefix(
            "cuda>=12.6 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536"))
        let cuda128 = try #require(catalog.cuda(try CUDAVersion(parsing: "12.8")))
        let string128 = cuda128.nvidiaRequireCUDA(brands: catalog.driverBrands, carriesCUDACompat: true)
        #expect(string128.hasPrefix(
            "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536"))
        #expect(string128.hasSuffix("brand=vws,driver>=565,driver<566 brand=cloudgaming,driver>=565,driver<566"))
        #expect(string128.split(separator: " ").count == 1 + 5 * 12)
    }

    @Test("without the cuda-compat libraries, NVIDIA_REQUIRE_CUDA is cuda>=MAJOR.MINOR alone", arguments: ["11.8", "12.6", "12.8", "13.0"])
    func nvidiaRequireCUDAWithoutCompat(_ version: String) throws {
        let catalog = try Catalog.builtin()
        let cuda = try #require(catalog.cuda(try CUDAVersion(parsing: version)))
        #expect(cuda.nvidiaRequireCUDA(brands: catalog.driverBrands, carriesCUDACompat: false) == "cuda>=\(version)")
    }

    @Test("host drivers: full, minor-version compatibility, forward compatibility, cannot run", arguments: [
        ("560.35.03", HostSupport.Level.full),
        ("570.86.15", .full),
        ("550.54.15", .minorVersionCompatibility),
        ("525.60.13", .minorVersionCompatibility),
        ("470.256.02", .forwardCompatibility),
        ("510.47.03", .cannotRun),
        ("450.80.02", .cannotRun),
    ])
    func hostSupport(_ driver: String, _ level: HostSupport.Level) throws {
        let cuda = try #require(try Catalog.builtin().cuda(try CUDAVersion(parsing: "12.6")))
        for carriesCUDACompat in [false, true] {
            let support = cuda.support(on: try DriverVersion(parsing: driver), carriesCUDACompat: carriesCUDACompat)
            #expect(support.level == level, "\(support.reason)")
            #expect(support.reason.contains(driver))
            // Forward compatibility runs only with the cuda-compat libraries in the image.
            let runs = level == .forwardCompatibility ? carriesCUDACompat : level != .cannotRun
            #expect(support.runs == runs, "\(driver), cuda-compat \(carriesCUDACompat): \(support.reason)")
        }
    }

    @Test("an image carries cuda-compat only when a component installs cuda-compat-MAJOR-MINOR; then it lists the branches", arguments: [
        ("[tini, git, curl, less, procps]", false),
        ("[tini, git, curl, less, procps, cuda-compat-12-6]", true),
        ("[tini, cuda-compat-12-8=570.124.06-0ubuntu1]", true),
        ("[tini, cuda-compat-12-4]", false),
        ("[tini, cuda-compat-11-8]", false),
    ])
    func carriesCUDACompat(_ packages: String, _ carries: Bool) throws {
        let image = try resolveVariant([("packages: [tini, git, curl, less, procps]", "packages: \(packages)")])
        #expect(image.carriesCUDACompat == carries)
        let require = try #require(image.environment["NVIDIA_REQUIRE_CUDA"])
        #expect(carries ? require == Self.published126 : require == "cuda>=12.6", "\(require)")
        let driver = image.explanations.filter { $0.component == .driver }.map(\.choice)
        #expect(driver.contains(carries ? "forward compatibility on branch 470" : "no forward compatibility"), "\(driver)")
    }

    @Test("a forward-compatibility-only driver: the reason says the image lacks cuda-compat and names the floor")
    func forwardCompatibilityReason() throws {
        let cuda = try #require(try Catalog.builtin().cuda(try CUDAVersion(parsing: "12.6")))
        let without = cuda.support(on: try DriverVersion(parsing: "470.57.02"), carriesCUDACompat: false)
        #expect(without.reason.contains("the image carries no cuda-compat package: upgrade the driver to 525.60.13 or newer"), "\(without.reason)")
        let with = cuda.support(on: try DriverVersion(parsing: "470.57.02"), carriesCUDACompat: true)
        #expect(with.reason.hasSuffix("and the image carries them"), "\(with.reason)")
        // A minor-version-compatible driver runs it, but the toolkit's cuda>=12.6 check refuses it unless disabled.
        let mvc = cuda.support(on: try DriverVersion(parsing: "550.54.15"), carriesCUDACompat: false)
        #expect(mvc.reason.contains("NVIDIA_DISABLE_REQUIRE=1"), "\(mvc.reason)")
        // With cuda-compat, branch 550's clause admits it.
        #expect(!cuda.support(on: try DriverVersion(parsing: "550.54.15"), carriesCUDACompat: true).reason.contains("NVIDIA_DISABLE_REQUIRE"))
    }

    @Test("every fact in the built-in catalog names its source")
    func sources() throws {
        let catalog = try Catalog.builtin()
        #expect(catalog.torch.allSatisfy { !$0.source.isEmpty && $0.builds.allSatisfy { !$0.source.isEmpty } })
        #expect(catalog.cuda.allSatisfy { !$0.source.isEmpty })
        #expect(catalog.cudnn.allSatisfy { !$0.source.isEmpty })
        #expect(catalog.driverBrands.count == 12)
    }

    @Test("a catalog file that is not a catalog is refused with its name")
    func badCatalog() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("c.yaml"), "torch: 5\n")
        #expect { try Catalog.load(path: scratch("c.yaml")) } throws: { "\($0)".hasPrefix(scratch("c.yaml") + ": not a valid catalog") }
    }
}

@Suite("The component graph")
struct GraphTests {
    @Test("a cycle is refused, naming the path")
    func cycle() {
        var graph = ComponentGraph()
        graph.add(.cuda, "12.6")
        graph.add(.cudnn, "9")
        graph.add(.torch, "2.7")
        graph.connect(.torch, to: .cudnn, "pin")
        graph.connect(.cudnn, to: .cuda, "builds")
        graph.connect(.cuda, to: .torch, "nonsense")
        #expect { try graph.validate() } throws: { "\($0)" == "dependency cycle: CUDA → torch → cuDNN → CUDA" }
    }

    @Test("dependencies come before what needs them")
    func order() throws {
        let image = try ImageResolver(catalog: .builtin()).resolve(SpecLoader(directory: packageRoot + "/Images").load("v2.7"))
        let order = image.order
        for edge in image.graph.edges {
            #expect(try #require(order.firstIndex(of: edge.to)) < (try #require(order.firstIndex(of: edge.from))))
        }
    }

    @Test("tree, DOT and Mermaid name every component with its version")
    func renderings() throws {
        let image = try ImageResolver(catalog: .builtin()).resolve(SpecLoader(directory: packageRoot + "/Images").load("v2.7"))
        let renderer = GraphRenderer(graph: image.graph, sizes: [.torch: 865 << 20])
        let tree = renderer.tree(title: "v2.7")
        #expect(tree.contains("└─ torch 2.7.1 + torchvision, torchaudio  [865.0 MiB]"))
        #expect(tree.contains("cuDNN 9.5.1.17  (the wheel's cuDNN pin)"))
        let dot = renderer.dot(name: "v2.7")
        #expect(dot.hasPrefix("digraph \"v2.7\" {") && dot.contains("torch -> cudnn [label=\"the wheel's cuDNN pin\"];"))
        #expect(renderer.mermaid().contains("cudnn -->|\"CUDA 12.x builds\"| cuda"))
    }
}
