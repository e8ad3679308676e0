import Foundation

/// What the lock check needs to know of a resolved wheel.
public struct WheelFacts: Hashable, Sendable {
    /// Normalised project name.
    public var name: String
    /// Exact version.
    public var version: String
    /// Its `Requires-Dist` lines.
    public var requiresDist: [String]

    /// Facts of one wheel.
    public init(name: String, version: String, requiresDist: [String]) {
        self.name = name
        self.version = version
        self.requiresDist = requiresDist
    }
}

/// Cross-checks the wheels that pip resolved against the catalog and against torch's own
/// `Requires-Dist` pins: the pins are the ground truth of what torch was built with.
public enum LockCheck {
    /// Every disagreement, as a sentence; empty when the lock agrees with the spec and catalog.
    public static func conflicts(_ image: ResolvedImage, wheels: [WheelFacts]) -> [String] {
        var conflicts: [String] = []
        let byName = Dictionary(wheels.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let spec = image.spec
        let cudaMajor = spec.cuda?.version.major ?? 12

        if let cudnn = spec.cudnn, let locked = byName["nvidia-cudnn-cu\(cudaMajor)"], locked.version != "\(cudnn.version)" {
            conflicts.append("pip resolved nvidia-cudnn-cu\(cudaMajor) \(locked.version), but the spec pins cuDNN \(cudnn.version) (\(spec.whereIs("cudnn.version")))")
        }
        if let nccl = spec.nccl, let locked = byName["nvidia-nccl-cu\(cudaMajor)"], locked.version != "\(nccl.version)" {
            conflicts.append("pip resolved nvidia-nccl-cu\(cudaMajor) \(locked.version), but the spec pins NCCL \(nccl.version) (\(spec.whereIs("nccl.version")))")
        }
        let runtimeName = CUDAComponent.wheelName("nvidia-cuda-runtime", major: cudaMajor)
        if let cuda = spec.cuda, let runtime = byName[runtimeName],
           let version = try? CUDAVersion(parsing: runtime.version.split(separator: ".").prefix(3).joined(separator: ".")),
           !version.matches(cuda.version) {
            conflicts.append("pip resolved \(runtimeName) \(runtime.version), which is not CUDA \(cuda.version) (\(spec.whereIs("cuda.version")))")
        }
        if let torch = spec.torch {
            guard let locked = byName["torch"] else {
                return conflicts + ["pip resolved no torch wheel for torch \(torch.version)"]
            }
            // A series resolves to one release of it (``ImageResolver``): that release is wanted.
            let wanted = image.torch?.version ?? torch.version
            if (try? PEP440Version(parsing: locked.version))?.publicVersion != wanted.publicVersion {
                let asked = torch.series.map { "the spec's \($0) series resolves to torch \(wanted)" } ?? "the spec pins torch \(torch.version)"
                conflicts.append("pip resolved torch \(locked.version), but \(asked) (\(spec.whereIs("torch.version")))")
            }
            // torch's own pins against what was locked.
            for line in locked.requiresDist {
                guard let pin = Pin(requiresDist: line), let other = byName[pin.name] else { continue }
                if other.version != pin.version {
                    conflicts.append("torch \(locked.version) pins \(pin.name)==\(pin.version) (Requires-Dist), but the lock has \(pin.name) \(other.version)")
                }
            }
        }
        return conflicts
    }

    /// A `name==version` pin from a `Requires-Dist` line that applies on Linux without extras.
    struct Pin {
        var name: String
        var version: String

        init?(requiresDist line: String) {
            let parts = line.split(separator: ";", maxSplits: 1)
            if parts.count == 2, parts[1].contains("extra") { return nil }
            let requirement = parts[0].trimmingCharacters(in: .whitespaces)
            guard let range = requirement.range(of: "=="), !requirement.contains(",") else { return nil }
            name = SpecLoader.projectName(String(requirement[..<range.lowerBound]).trimmingCharacters(in: .whitespaces))
            version = requirement[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: " ()"))
            guard !name.isEmpty, !version.isEmpty else { return nil }
        }
    }
}
