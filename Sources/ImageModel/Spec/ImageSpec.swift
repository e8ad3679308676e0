import OCI

/// An image as the user describes it in `Images/NAME.yaml`: typed components, each optional
/// except the base OS, with the spec line of every value kept for messages.
public struct ImageSpec: Hashable, Sendable, Codable {
    /// The image name (the file name without `.yaml`).
    public var name: String
    /// The spec this one extends, if any.
    public var extends: String?
    /// A line for people.
    public var description: String?
    /// The base OS.
    public var base: BaseOS
    /// The host driver the image needs.
    public var driver: DriverRequirement
    /// The CUDA toolkit.
    public var cuda: CUDAComponent?
    /// cuDNN.
    public var cudnn: CuDNNComponent?
    /// NCCL.
    public var nccl: NCCLComponent?
    /// Python.
    public var python: PythonComponent?
    /// torch and its companions.
    public var torch: TorchComponent?
    /// Other pip requirements.
    public var packages: PackageSet
    /// SSH, a compiler for torch.compile, Jupyter Lab.
    public var tools: Tools
    /// User, workdir, env, ports, entrypoint, labels, tags.
    public var config: ImageConfigSpec
    /// Where each value came from, by dotted key (`cuda.version` → file and line).
    public var locations: [String: SpecLocation]
    /// The platforms of one multi-platform image (`linux/amd64`, `linux/arm64`), the first the
    /// one `base.architecture` names; `nil` when the spec names none (one platform, the base's
    /// architecture), which keeps the spec digest of specs that predate the key.
    public var platforms: [String]? = nil

    /// The platforms the image is built for: ``platforms`` or the base's architecture alone.
    public var platformNames: [String] { platforms ?? ["linux/\(base.architecture)"] }

    /// The spec as one platform of it resolves: `base.architecture` set to the platform's.
    public func forPlatform(_ platform: String) -> ImageSpec {
        var copy = self
        copy.base.architecture = Self.architecture(of: platform)
        return copy
    }

    /// The platforms a spec may list, with their Debian architectures.
    public static let supportedPlatforms = ["linux/amd64", "linux/arm64"]

    /// The Debian (and OCI) architecture of `linux/ARCH` (OCI's `Platform` parses it).
    public static func architecture(of platform: String) -> String {
        (try? Platform(parsing: platform))?.architecture ?? platform
    }

    /// The Linux machine (`uname -m`, the wheels' platform tags) of a Debian architecture; an
    /// unknown one is returned as it is.
    public static func machine(of architecture: String) -> String {
        ["amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "armhf": "armv7l", "ppc64el": "ppc64le"][architecture] ?? architecture
    }

    /// Where a dotted key was written, as `FILE, line N` (or the file alone).
    public func whereIs(_ key: String) -> String {
        locations[key].map { "\($0)" } ?? "Images/\(name).yaml"
    }
}

/// The base operating system.
public struct BaseOS: Hashable, Sendable, Codable {
    /// `debian`.
    public var distribution: String
    /// `bookworm`.
    public var release: String
    /// `amd64` or `arm64`.
    public var architecture: String
    /// Debian packages beyond the essential set.
    public var packages: [String]
    /// `true`: only `packages` and what the components need, with their dependencies — no
    /// Essential/required set and no `ca-certificates`. `nil` (not written) means `false`, and
    /// keeps the spec digest of specs that predate the key.
    public var minimal: Bool? = nil
}

/// The host driver an image needs (never shipped in the image).
public struct DriverRequirement: Hashable, Sendable, Codable {
    /// The oldest driver the image promises to run on; nil means "what CUDA needs".
    public var minimum: DriverVersion?
}

/// Which CUDA toolkit flavour: libraries only, or compiler and headers too.
public enum CUDAFlavour: String, Hashable, Sendable, Codable, CaseIterable {
    /// Runtime libraries.
    case runtime
    /// Runtime plus NVCC and headers.
    case devel
}

/// The CUDA toolkit component.
public struct CUDAComponent: Hashable, Sendable, Codable {
    /// major.minor (a patch is allowed and kept).
    public var version: CUDAVersion
    /// runtime or devel.
    public var flavour: CUDAFlavour
    /// Exact versions for the component's own wheels (`nvidia-cuda-runtime-cu12: 12.6.77`),
    /// instead of the newest of the CUDA minor release; `nil` when the spec pins none.
    public var pins: [String: PEP440Version]? = nil

    /// The wheels the component itself asks for: runtime and NVRTC, plus NVCC and CCCL for devel
    /// — and from CUDA 13 on, where NVCC's compiler back end (NVVM) and its headers (CRT) are
    /// wheels of their own that NVCC does not pin, those too, so the whole compiler is of one
    /// CUDA release (NVVM 13.5 writes PTX that the ptxas of NVCC 13.2 refuses).
    public var wheelNames: [String] {
        let devel = flavour != .devel ? [] : ["nvidia-cuda-nvcc", "nvidia-cuda-cccl"] + (version.major >= 13 ? ["nvidia-nvvm", "nvidia-cuda-crt"] : [])
        return (["nvidia-cuda-runtime", "nvidia-cuda-nvrtc"] + devel).map { Self.wheelName($0, major: version.major) }
    }

    /// The project name of a CUDA toolkit wheel: up to CUDA 12 the family carries the major
    /// (`nvidia-cuda-runtime-cu12`); from CUDA 13 on, the toolkit's own wheels do not
    /// (`nvidia-cuda-runtime`, pulled by `cuda-toolkit[cudart]`), while libraries released apart
    /// from the toolkit keep it (`nvidia-cudnn-cu13`, `nvidia-nccl-cu13`).
    public static func wheelName(_ family: String, major: Int) -> String {
        major >= 13 ? family : "\(family)-cu\(major)"
    }

    /// Where NVCC is below site-packages: each CUDA 12 wheel has its own folder
    /// (`nvidia/cuda_nvcc/bin/nvcc`); from CUDA 13 on the toolkit's wheels share one
    /// (`nvidia/cu13/bin/nvcc`).
    public static func nvccPath(major: Int) -> String {
        major >= 13 ? "nvidia/cu\(major)/bin/nvcc" : "nvidia/cuda_nvcc/bin/nvcc"
    }
}

/// The cuDNN component.
public struct CuDNNComponent: Hashable, Sendable, Codable {
    /// The exact version.
    public var version: CuDNNVersion
}

/// The NCCL component.
public struct NCCLComponent: Hashable, Sendable, Codable {
    /// The exact version.
    public var version: NCCLVersion
}

/// The Python component.
public struct PythonComponent: Hashable, Sendable, Codable {
    /// major.minor.
    public var version: PythonVersion
}

/// torch and the companion packages built with it.
public struct TorchComponent: Hashable, Sendable, Codable {
    /// The torch release (`2.7.0`), or the series to follow (`2.7`: see ``series``).
    public var version: PEP440Version
    /// Companions to install at the catalog's matching versions (`torchvision`, `torchaudio`).
    public var companions: [String]

    /// The series a two-part version follows (`2.7`: the newest 2.7.x release in the catalog);
    /// nil when the spec pins a release exactly (`2.7.0`).
    public var series: TorchSeries? { TorchSeries(spec: version) }
}

/// Extra pip requirements.
public struct PackageSet: Hashable, Sendable, Codable {
    /// Requirement strings, e.g. `jupyterlab` or `numpy==2.2.6`.
    public var requirements: [String]
}

/// Tools the image carries.
public struct Tools: Hashable, Sendable, Codable {
    /// An OpenSSH server (host keys made when a container starts).
    public var ssh: Bool
    /// gcc and the Python headers, which `torch.compile` needs at run time.
    public var compiler: Bool
    /// Jupyter Lab (port 8888).
    public var jupyter: Bool
}

/// A non-root user.
public struct UserSpec: Hashable, Sendable, Codable {
    /// The name.
    public var name: String
    /// uid.
    public var uid: Int
    /// gid.
    public var gid: Int
}

/// The container configuration.
public struct ImageConfigSpec: Hashable, Sendable, Codable {
    /// An optional non-root user.
    public var user: UserSpec?
    /// The working directory.
    public var workdir: String?
    /// Extra environment variables.
    public var env: [String: String]
    /// Ports to expose.
    public var ports: [Int]
    /// The entrypoint.
    public var entrypoint: [String]?
    /// The default command.
    public var cmd: [String]?
    /// Labels.
    public var labels: [String: String]
    /// Tags.
    public var tags: [String]
}
