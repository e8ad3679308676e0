import Foundation
import Yams

/// The compatibility catalog: which torch builds exist for which CUDA, cuDNN, NCCL and Python,
/// which drivers run which CUDA, which CUDA versions each cuDNN series supports. Every fact
/// carries its `source`, so `imagegen explain` can say why a version was allowed.
public struct Catalog: Codable, Hashable, Sendable {
    /// torch releases.
    public var torch: [TorchRelease]
    /// CUDA toolkits and their drivers.
    public var cuda: [CUDARelease]
    /// cuDNN series and the CUDA versions they support.
    public var cudnn: [CuDNNSupport]
    /// Debian packages that ship CUDA libraries (so an image carries one copy only).
    public var systemLibraries: [SystemLibrary]
    /// The brand names NVIDIA's images list in `NVIDIA_REQUIRE_CUDA`, in their order.
    public var driverBrands: [String]

    /// The built-in catalog.
    public static func builtin() throws -> Catalog {
        try parse(yaml: builtinYAML, name: "built-in catalog")
    }

    /// A catalog from a YAML file.
    public static func load(path: String) throws -> Catalog {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SpecError(file: path, line: nil, message: "cannot read the catalog file")
        }
        return try parse(yaml: text, name: path)
    }

    /// A catalog from YAML text; `name` names it in errors.
    public static func parse(yaml: String, name: String) throws -> Catalog {
        do {
            return try YAMLDecoder().decode(Catalog.self, from: yaml)
        } catch {
            throw SpecError(file: name, line: nil, message: "not a valid catalog: \(error)")
        }
    }

    /// The torch release with this version.
    public func torch(_ version: PEP440Version) -> TorchRelease? {
        torch.first { $0.version.publicVersion == version.publicVersion }
    }

    /// The CUDA release with this major.minor.
    public func cuda(_ version: CUDAVersion) -> CUDARelease? {
        cuda.first { $0.version.matches(version) }
    }

    /// The cuDNN support rows for a cuDNN version's series and a CUDA major version.
    public func cudnnSupport(_ cudnn: CuDNNVersion, cudaMajor: Int) -> CuDNNSupport? {
        self.cudnn.first { $0.series == "\(cudnn.major)" && $0.cudaMajor == cudaMajor }
    }
}

/// One torch release.
public struct TorchRelease: Codable, Hashable, Sendable {
    /// The release, e.g. 2.7.0.
    public var version: PEP440Version
    /// The Python versions it has wheels for.
    public var python: [PythonVersion]
    /// The torchvision and torchaudio releases built with it.
    public var companions: [String: PEP440Version]
    /// Its CUDA builds.
    public var builds: [TorchBuild]
    /// Where these facts come from.
    public var source: String
    /// The platform tags of its wheels on the index (`manylinux_2_28_x86_64`, `win_amd64`, …),
    /// read from the wheel file names by `imagegen catalog refresh`; absent when hand-kept.
    public var platforms: [String]?
    /// The wheels whose metadata `catalog refresh` read, one per Linux machine, each with the
    /// CUDA stack it pins (the source of `builds`' default build); absent when hand-kept.
    public var wheels: [WheelSource]?
    /// Where each companion's version comes from: its wheel's file name and SHA-256, whose
    /// `Requires-Dist` pins this torch release; absent when hand-kept.
    public var companionSources: [String: String]?

    /// A release, as `catalog refresh` writes one.
    public init(
        version: PEP440Version, python: [PythonVersion], companions: [String: PEP440Version], builds: [TorchBuild],
        source: String, platforms: [String]? = nil, wheels: [WheelSource]? = nil, companionSources: [String: String]? = nil
    ) {
        self.version = version
        self.python = python
        self.companions = companions
        self.builds = builds
        self.source = source
        self.platforms = platforms
        self.wheels = wheels
        self.companionSources = companionSources
    }

    enum CodingKeys: String, CodingKey {
        case version, python, companions, source, platforms, wheels, companionSources, builds
    }

    /// Encodes the fields in declaration order and the maps sorted by key, so that a refreshed
    /// catalog file is the same bytes for the same facts.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(python, forKey: .python)
        try c.encodeSorted(companions, forKey: .companions)
        try c.encode(source, forKey: .source)
        try c.encodeIfPresent(platforms, forKey: .platforms)
        try c.encodeIfPresent(wheels, forKey: .wheels)
        if let companionSources { try c.encodeSorted(companionSources, forKey: .companionSources) }
        try c.encode(builds, forKey: .builds)
    }

    /// The build for a CUDA major.minor.
    public func build(for cuda: CUDAVersion) -> TorchBuild? {
        builds.first { $0.cuda.matches(cuda) }
    }

    /// The build on the default package index.
    public var defaultBuild: TorchBuild? { builds.first { $0.isDefault } }
}

/// One CUDA build of a torch release.
public struct TorchBuild: Codable, Hashable, Sendable {
    /// CUDA major.minor it was built for.
    public var cuda: CUDAVersion
    /// True for the build the default package index serves (others need the CUDA-specific index).
    public var isDefault: Bool
    /// True for builds PyTorch calls experimental.
    public var experimental: Bool
    /// The cuDNN it pins.
    public var cudnn: CuDNNVersion
    /// The NCCL it pins.
    public var nccl: NCCLVersion
    /// The triton it pins, when known.
    public var triton: PEP440Version?
    /// Where these facts come from.
    public var source: String

    enum CodingKeys: String, CodingKey {
        case cuda, experimental, cudnn, nccl, triton, source
        case isDefault = "default"
    }

    /// A build, as `catalog refresh` derives one from a wheel's pins.
    public init(
        cuda: CUDAVersion, isDefault: Bool, experimental: Bool = false, cudnn: CuDNNVersion, nccl: NCCLVersion,
        triton: PEP440Version?, source: String
    ) {
        self.cuda = cuda
        self.isDefault = isDefault
        self.experimental = experimental
        self.cudnn = cudnn
        self.nccl = nccl
        self.triton = triton
        self.source = source
    }

    /// Leaves out `default` and `experimental` when false, as the hand-kept rows do.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cuda, forKey: .cuda)
        if isDefault { try c.encode(true, forKey: .isDefault) }
        if experimental { try c.encode(true, forKey: .experimental) }
        try c.encode(cudnn, forKey: .cudnn)
        try c.encode(nccl, forKey: .nccl)
        try c.encodeIfPresent(triton, forKey: .triton)
        try c.encode(source, forKey: .source)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cuda = try c.decode(CUDAVersion.self, forKey: .cuda)
        isDefault = try c.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
        experimental = try c.decodeIfPresent(Bool.self, forKey: .experimental) ?? false
        cudnn = try c.decode(CuDNNVersion.self, forKey: .cudnn)
        nccl = try c.decode(NCCLVersion.self, forKey: .nccl)
        triton = try c.decodeIfPresent(PEP440Version.self, forKey: .triton)
        source = try c.decode(String.self, forKey: .source)
    }
}

/// A CUDA toolkit release and the drivers that run it.
public struct CUDARelease: Codable, Hashable, Sendable {
    /// major.minor.
    public var version: CUDAVersion
    /// The driver the toolkit ships with: full support, PTX JIT included.
    public var toolkitDriver: DriverVersion
    /// The oldest driver that runs its binaries through minor-version compatibility (no PTX JIT).
    public var minorVersionMinimum: DriverVersion
    /// Older driver branches that run it with the forward-compatibility package (datacenter GPUs).
    public var forwardBranches: [Int]
    /// Where these facts come from.
    public var source: String
}

/// The CUDA versions one cuDNN series supports.
public struct CuDNNSupport: Codable, Hashable, Sendable {
    /// The cuDNN major version, as a string ("9").
    public var series: String
    /// The CUDA major this row is for.
    public var cudaMajor: Int
    /// The supported CUDA range.
    public var cuda: CUDARange
    /// The oldest driver it supports.
    public var minimumDriver: DriverVersion
    /// Where this fact comes from.
    public var source: String
}

/// A closed range of CUDA major.minor versions.
public struct CUDARange: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The first supported version.
    public var from: CUDAVersion
    /// The last supported version.
    public var through: CUDAVersion

    /// Whether `version` lies in the range (by major.minor).
    public func contains(_ version: CUDAVersion) -> Bool {
        from.majorMinor <= version.majorMinor && version.majorMinor <= through.majorMinor
    }

    public var description: String { from == through ? "\(from)" : "\(from)–\(through)" }
}

/// A Debian package that ships a CUDA library.
public struct SystemLibrary: Codable, Hashable, Sendable {
    /// The Debian package.
    public var package: String
    /// The library it ships (NCCL, cuDNN, CUDA).
    public var library: String
    /// Where this fact comes from.
    public var source: String
}

/// A wheel whose metadata the catalog's facts were read from.
public struct WheelSource: Codable, Hashable, Sendable {
    /// The wheel's file name on the index.
    public var file: String
    /// Its SHA-256, as the index gives it (hex).
    public var sha256: String
    /// Its `Requires-Dist` lines for the CUDA stack (NVIDIA libraries, `cuda-*`, triton),
    /// verbatim, markers included.
    public var pins: [String]

    /// A wheel and its pins.
    public init(file: String, sha256: String, pins: [String]) {
        self.file = file
        self.sha256 = sha256
        self.pins = pins
    }
}

/// A coding key for the keys of a map.
struct MapKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedEncodingContainer {
    /// Encodes a map with its keys in sorted order (a `Dictionary` encodes in hash order).
    mutating func encodeSorted<Value: Encodable>(_ map: [String: Value], forKey key: Key) throws {
        var nested = nestedContainer(keyedBy: MapKey.self, forKey: key)
        for name in map.keys.sorted() { try nested.encode(map[name]!, forKey: MapKey(stringValue: name)) }
    }
}
