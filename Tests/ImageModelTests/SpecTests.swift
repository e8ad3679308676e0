import Foundation
import ImageModel
import TestSupport
import Testing

/// A minimal valid spec body (without `name:`), to which tests add or from which they vary.
let minimalBody = """
    base:
      release: bookworm
    """

/// Writes specs into a scratch Images directory and loads one.
func loadSpec(_ name: String, _ files: [String: String]) throws -> ImageSpec {
    let scratch = try ScratchDirectory()
    for (file, text) in files { try writeFile(scratch("Images/\(file).yaml"), text) }
    return try SpecLoader(directory: scratch("Images")).load(name)
}

@Suite("Specs: every bad spec gets its own clear error")
struct SpecTests {
    @Test("the shipped specs load and resolve", arguments: ["v2.6", "v2.7", "v2.7-devel", "v2.8", "v2.8-devel", "v2.9", "v2.9-devel", "v2.10", "v2.10-devel", "v2.15", "v2.15-devel"])
    func shipped(_ name: String) throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load(name)
        let image = try ImageResolver(catalog: .builtin()).resolve(spec)
        #expect(image.spec.name == name)
        #expect(image.environment["NVIDIA_REQUIRE_CUDA"] == "cuda>=\(spec.cuda!.version.majorMinor)")
        #expect(image.environment["PATH"]?.hasPrefix("/opt/venv/bin:") == true)
    }

    @Test("v2.7 says what the issue asks for")
    func v27() throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load("v2.7")
        #expect("\(spec.torch!.version)" == "2.7")
        #expect(spec.torch!.companions == ["torchvision", "torchaudio"])
        #expect("\(spec.cuda!.version)" == "12.6" && spec.cuda!.flavour == .runtime)
        #expect("\(spec.cudnn!.version)" == "9.5.1.17")
        #expect("\(spec.nccl!.version)" == "2.26.2")
        #expect("\(spec.python!.version)" == "3.11")
        #expect(spec.base.release == "bookworm")
        #expect(spec.tools.ssh && spec.tools.compiler && spec.tools.jupyter)
        #expect(spec.config.workdir == "/workspace")
        #expect(spec.config.ports == [8888, 22])
        #expect(spec.config.tags == ["v2.7", "2.7.1-cuda12.6-cudnn9-runtime-py3.11"])
        let image = try ImageResolver(catalog: .builtin()).resolve(spec)
        #expect(image.pipRequirements[.torch] == ["torch==2.7.1", "torchvision==0.22.1", "torchaudio==2.7.1"])
        #expect(image.aptRequests[.tools] == ["openssh-server", "gcc", "g++", "libc6-dev", "python3.11-dev"])
    }

    @Test("v2.15: CUDA 13's packaging, the toolkit's wheels without a -cu suffix, cuDNN and NCCL as -cu13")
    func cuda13() throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load("v2.15")
        let image = try ImageResolver(catalog: .builtin()).resolve(spec)
        #expect(image.pipRequirements[.cuda] == ["nvidia-cuda-runtime~=13.2.0", "nvidia-cuda-nvrtc~=13.2.0"])
        #expect(image.pipRequirements[.cudnn] == ["nvidia-cudnn-cu13==9.26.0.51"])
        #expect(image.pipRequirements[.nccl] == ["nvidia-nccl-cu13==2.30.7"])
        #expect(image.pipRequirements[.torch] == ["torch==2.15.0"])
        #expect(image.environment["CUDA_VERSION"] == "13.2")
        var devel = spec
        devel.cuda?.flavour = .devel
        #expect(devel.cuda?.wheelNames == ["nvidia-cuda-runtime", "nvidia-cuda-nvrtc", "nvidia-cuda-nvcc", "nvidia-cuda-cccl", "nvidia-nvvm", "nvidia-cuda-crt"])

        // The lock's cross-check names CUDA 13's runtime wheel: a 13.0 runtime is not CUDA 13.2.
        let wheels = [
            WheelFacts(name: "torch", version: "2.15.0", requiresDist: []),
            WheelFacts(name: "nvidia-cuda-runtime", version: "13.0.96", requiresDist: []),
            WheelFacts(name: "nvidia-cudnn-cu13", version: "9.26.0.51", requiresDist: []),
            WheelFacts(name: "nvidia-nccl-cu13", version: "2.30.6", requiresDist: []),
        ]
        let conflicts = LockCheck.conflicts(image, wheels: wheels)
        #expect(conflicts.contains { $0.hasPrefix("pip resolved nvidia-cuda-runtime 13.0.96, which is not CUDA 13.2 (") }, "\(conflicts)")
        #expect(conflicts.contains { $0.hasPrefix("pip resolved nvidia-nccl-cu13 2.30.6, but the spec pins NCCL 2.30.7 (") }, "\(conflicts)")
        #expect(!conflicts.contains { $0.contains("cuDNN") }, "\(conflicts)")
    }

    @Test("extends: the devel spec inherits v2.7 and overrides the flavour and tags")
    func extends() throws {
        let spec = try SpecLoader(directory: packageRoot + "/Images").load("v2.7-devel")
        #expect(spec.cuda?.flavour == .devel)
        #expect("\(spec.torch!.version)" == "2.7")
        #expect(spec.config.tags == ["v2.7-devel", "2.7.1-cuda12.6-cudnn9-devel-py3.11"])
        #expect(spec.config.env["LANG"] == "C.UTF-8")
        let image = try ImageResolver(catalog: .builtin()).resolve(spec)
        #expect(image.pipRequirements[.cuda]?.contains("nvidia-cuda-nvcc-cu12~=12.6.0") == true)
    }

    @Test("bad specs", arguments: [
        // (files: name → text, the error message's end)
        (["x": ""], "Images/x.yaml: the file is empty; expected a mapping with at least 'name' and 'base'"),
        (["x": "name: x\nbase: [unclosed"], "Images/x.yaml: not valid YAML"),
        (["x": "- a\n- b\n"], "Images/x.yaml, line 1: expected a mapping at the top level, got a list"),
        (["x": "base:\n  release: bookworm\n"], "Images/x.yaml, line 1: name is missing (e.g. name: x)"),
        (["x": "name: y\n\(minimalBody)"], "Images/x.yaml, line 1: name is 'y' but the file is x.yaml; they must match"),
        (["x": "name: x\n"], "Images/x.yaml, line 1: base is missing (e.g. base: {distribution: debian, release: bookworm})"),
        (["x": "name: x\n\(minimalBody)\nrocm:\n  version: 6.0\n"], "Images/x.yaml, line 4: unknown component 'rocm'"),
        (["x": "name: x\n\(minimalBody)\ncuda:\n  version: \"12.6\"\n  flavor: devel\n"], "Images/x.yaml, line 6: unknown key 'cuda.flavor' (expected one of: flavour, pins, version)"),
        (["x": "name: x\n\(minimalBody)\ncuda:\n  version: [12, 6]\n"], "Images/x.yaml, line 5: cuda.version: expected a string, got a list"),
        (["x": "name: x\n\(minimalBody)\ncuda:\n  version: twelve\n"], "Images/x.yaml, line 5: cuda.version: invalid CUDA version 'twelve'"),
        (["x": "name: x\n\(minimalBody)\ncuda:\n  flavour: runtime\n"], "Images/x.yaml, line 4: cuda.version is missing (e.g. version: \"12.6\")"),
        (["x": "name: x\n\(minimalBody)\ncuda:\n  version: \"12.6\"\n  flavour: debug\n"], "Images/x.yaml, line 6: cuda.flavour: expected runtime or devel, got 'debug'"),
        (["x": "name: x\n\(minimalBody)\ncudnn: 9.5\n"], "Images/x.yaml, line 4: cudnn: expected a mapping, got a scalar"),
        (["x": "name: x\n\(minimalBody)\ntorch:\n  version: 2.7.x\n"], "Images/x.yaml, line 5: torch.version: invalid PEP 440 version '2.7.x'"),
        (["x": "name: x\n\(minimalBody)\npython:\n  version: three\n"], "Images/x.yaml, line 5: python.version: invalid Python version 'three'"),
        (["x": "name: x\n\(minimalBody)\ndriver:\n  minimum: 525.x\n"], "Images/x.yaml, line 5: driver.minimum: invalid NVIDIA driver version '525.x'"),
        (["x": "name: x\n\(minimalBody)\ntools:\n  ssh: please\n"], "Images/x.yaml, line 5: tools.ssh: expected true or false, got 'please'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  ports: [8888, 70000]\n"], "Images/x.yaml, line 5: config.ports: expected a port from 1 to 65535, got '70000'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  workdir: workspace\n"], "Images/x.yaml, line 5: config.workdir: expected an absolute path, got 'workspace'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  tags: [v1, v1]\n"], "Images/x.yaml, line 5: config.tags: duplicate tag 'v1'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  tags: ['bad tag']\n"], "Images/x.yaml, line 5: config.tags: 'bad tag' is not a valid tag"),
        (["x": "name: x\n\(minimalBody)\npackages: [jupyterlab, JupyterLab==4.0]\n"], "Images/x.yaml, line 4: packages: duplicate package 'jupyterlab' (first at line 4)"),
        (["x": "name: x\n\(minimalBody)\npackages: {jupyterlab: 4}\n"], "Images/x.yaml, line 4: packages: expected a list of pip requirements, got a mapping"),
        (["x": "name: x\n\(minimalBody)\nbase:\n  release: trixie\n"], "duplicated key(s): 'base'"),
        (["x": "name: x\nbase:\n  distribution: alpine\n  release: '3.20'\n"], "Images/x.yaml, line 3: base.distribution: only 'debian' is supported, got 'alpine'"),
        (["x": "name: x\nbase:\n  release: bookworm\n  architecture: s390x\n"], "Images/x.yaml, line 4: base.architecture: expected amd64 or arm64, got 's390x'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  user: {name: root}\n"], "Images/x.yaml, line 5: config.user.name: 'root' is not a valid non-root user name"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  user: {name: dev, uid: -5}\n"], "Images/x.yaml, line 5: config.user.uid: expected a whole number from 1 to 60000, got '-5'"),
        (["x": "name: x\n\(minimalBody)\nconfig:\n  env: {A: [1, 2]}\n"], "Images/x.yaml, line 5: config.env.A: expected a string, got a list"),
        (["x": "name: x\n\(minimalBody)\ntorch:\n  version: 2.7.0\n  with: [torchtext]\n"], "Images/x.yaml, line 6: torch.with: 'torchtext' is not a torch companion (expected torchvision or torchaudio)"),
        (["x": "name: x\nextends: y\n", "y": "name: y\nextends: x\n\(minimalBody)"], "extends cycle: x → y → x"),
        (["x": "name: x\nextends: nowhere\n"], "Images/nowhere.yaml: no such spec (extended by x); known specs: x"),
        (["x": "name: x\nextends: [a, b]\n\(minimalBody)"], "Images/x.yaml, line 2: extends: expected the name of another spec"),
    ])
    func badSpecs(_ files: [String: String], _ message: String) throws {
        #expect {
            try loadSpec("x", files)
        } throws: { error in
            let text = "\(error)"
            return error is SpecError && (text.hasSuffix(message) || text.contains(message)) && !text.contains("\n")
        }
    }

    @Test("a spec name with a path in it is refused")
    func badName() throws {
        let scratch = try ScratchDirectory()
        #expect { try SpecLoader(directory: scratch.path).load("../etc/passwd") } throws: {
            "\($0)".contains("'../etc/passwd' is not a spec name")
        }
    }
}
