import Foundation
import ImageModel
import TestSupport
import Testing

/// `base.minimal` and `cuda.pins`, the two keys the CUDA smoke image needs, and the shipped
/// `cuda-smoke` spec.
@Suite("A minimal base and pinned CUDA wheels (cuda-smoke)")
struct SmokeSpecTests {
    /// cuda-smoke's spec text with replacements, resolved; or its conflicts.
    func conflicts(_ replacements: [(String, String)]) throws -> [String] {
        do {
            _ = try resolveVariant(of: "cuda-smoke", replacements)
            return []
        } catch let error as ConflictError {
            return error.conflicts.map { $0.replacing(#/[^\s(]*/Images/#, with: "Images") }
        }
    }

    @Test("cuda-smoke: a minimal base without ca-certificates, the runtime and NVRTC wheels at v2.7's versions")
    func shipped() throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load("cuda-smoke")
        #expect(spec.base.minimal == true)
        let image = try ImageResolver(catalog: .builtin()).resolve(spec)
        #expect(image.aptRequests[.base] == ["libc6", "libc-bin", "libstdc++6"])
        #expect(image.graph.node(.base)?.label == "debian bookworm amd64 (minimal)")
        #expect(image.pipRequirements[.cuda] == ["nvidia-cuda-runtime-cu12==12.6.77", "nvidia-cuda-nvrtc-cu12==12.6.77"])
        #expect(image.environment["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.6")

        // The pins are the versions torch 2.7.0 brings in v2.7's lock, and cuda-smoke's lock has them.
        let v27 = try Lockfile.load(path: packageRoot + "/Images/v2.7.lock.json")
        let smoke = try Lockfile.load(path: packageRoot + "/Images/cuda-smoke.lock.json")
        for name in ["nvidia-cuda-runtime-cu12", "nvidia-cuda-nvrtc-cu12"] {
            let pinned = spec.cuda?.pins?[name].map { "\($0)" }
            #expect(pinned != nil && pinned == v27.wheels.first { $0.name == name }?.version)
            #expect(smoke.wheels.first { $0.name == name }?.sha256 == v27.wheels.first { $0.name == name }?.sha256)
        }
        #expect(smoke.wheels.count == 2)
        #expect(!smoke.debs.contains { ["bash", "coreutils", "perl-base"].contains($0.name) }, "a minimal base has no Essential set")
    }

    @Test("the new keys leave older specs' digests alone: every shipped lock still matches its spec",
          arguments: ["v2.6", "v2.7", "v2.7-devel", "v2.8", "cuda-smoke"])
    func locksStayFresh(_ name: String) throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load(name)
        #expect(try Lockfile.load(path: "\(packageRoot)/Images/\(name).lock.json").matches(spec))
    }

    @Test("minimal: false is the default, written or not")
    func minimalFalse() throws {
        let written = try loadSpec("x", ["x": "name: x\nbase:\n  release: bookworm\n  minimal: false\n"])
        let absent = try loadSpec("x", ["x": "name: x\n\(minimalBody)"])
        #expect(written.base.minimal == nil)
        #expect(try Lockfile.digest(of: written) == Lockfile.digest(of: absent))
        let image = try ImageResolver(catalog: .builtin()).resolve(absent)
        #expect(image.aptRequests[.base] == ["ca-certificates"])
    }

    @Test("bad pins and a bad minimal", arguments: [
        ("cuda:\n  version: \"12.6\"\n  pins: [nvidia-cuda-runtime-cu12]\n", "line 6: cuda.pins: expected a mapping, got a list"),
        ("cuda:\n  version: \"12.6\"\n  pins:\n    nvidia_cuda_runtime_cu12: 12.6.77\n",
         "line 7: cuda.pins: 'nvidia_cuda_runtime_cu12' is not a wheel name in normal form"),
        ("cuda:\n  version: \"12.6\"\n  pins:\n    nvidia-cuda-runtime-cu12:\n", "line 7: cuda.pins.nvidia-cuda-runtime-cu12: expected a version"),
        ("cuda:\n  version: \"12.6\"\n  pins:\n    nvidia-cuda-runtime-cu12: 12.6.x\n",
         "line 7: cuda.pins.nvidia-cuda-runtime-cu12: invalid PEP 440 version '12.6.x'"),
        ("cuda:\n  version: \"12.6\"\n  pin:\n    nvidia-cuda-runtime-cu12: 12.6.77\n", "line 6: unknown key 'cuda.pin'"),
    ])
    func badPins(_ tail: String, _ message: String) throws {
        #expect {
            try loadSpec("x", ["x": "name: x\n\(minimalBody)\n\(tail)"])
        } throws: { error in
            error is SpecError && "\(error)".contains("Images/x.yaml, \(message)")
        }
        #expect {
            try loadSpec("x", ["x": "name: x\nbase:\n  release: bookworm\n  minimal: sometimes\n"])
        } throws: { error in
            "\(error)".hasSuffix("Images/x.yaml, line 4: base.minimal: expected true or false, got 'sometimes'")
        }
    }

    @Test("pins of wheels the component does not install, of another CUDA release, and an empty minimal base are conflicts")
    func conflictsNamed() throws {
        let nvcc = try conflicts([("nvidia-cuda-nvrtc-cu12: 12.6.77", "nvidia-cuda-nvcc-cu12: 12.6.77")])
        #expect(nvcc == [
            "cuda.pins names nvidia-cuda-nvcc-cu12 (Images/cuda-smoke.yaml, line 26), which the CUDA 12.6 runtime component does "
                + "not install; it pins nvidia-cuda-runtime-cu12 or nvidia-cuda-nvrtc-cu12",
        ])
        let other = try conflicts([("nvidia-cuda-runtime-cu12: 12.6.77", "nvidia-cuda-runtime-cu12: 12.8.90")])
        #expect(other == [
            "cuda.pins: nvidia-cuda-runtime-cu12 12.8.90 (Images/cuda-smoke.yaml, line 25) is not a CUDA 12.6 wheel "
                + "(Images/cuda-smoke.yaml, line 21); pin a 12.6.x version",
        ])
        let empty = try conflicts([("packages: [libc6, libc-bin, libstdc++6]", "packages: []")])
        #expect(empty.count == 1 && empty[0].hasPrefix("base.minimal (Images/cuda-smoke.yaml, line 15) leaves out Debian's base set"))
    }
}
