import Foundation
import ImageModel
import OCI

/// A catalog whose torch releases are 2.6.0, 2.7.0, 2.7.1 and 2.8.0, whatever the shipped one
/// holds: the shipped CUDA, cuDNN and driver facts, torch releases written here.
public func seriesCatalog(without: [String] = []) throws -> Catalog {
    var catalog = try Catalog.builtin()
    func release(_ version: String, cuda: String, cudnn: String, nccl: String, python: [String]) throws -> TorchRelease {
        let build = TorchBuild(
            cuda: try CUDAVersion(parsing: cuda), isDefault: true, cudnn: try CuDNNVersion(parsing: cudnn),
            nccl: try NCCLVersion(parsing: nccl), triton: nil, source: "fixture: torch \(version)")
        return TorchRelease(
            version: try PEP440Version(parsing: version), python: try python.map(PythonVersion.init(parsing:)),
            companions: ["torchvision": try PEP440Version(parsing: "0.0.\(version.filter(\.isNumber))")], builds: [build],
            source: "fixture: torch \(version)")
    }
    catalog.torch = try [
        release("2.6.0", cuda: "12.4", cudnn: "9.1.0.70", nccl: "2.21.5", python: ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        release("2.7.0", cuda: "12.6", cudnn: "9.5.1.17", nccl: "2.26.2", python: ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        release("2.7.1", cuda: "12.6", cudnn: "9.5.1.17", nccl: "2.26.2", python: ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        release("2.8.0", cuda: "12.8", cudnn: "9.10.2.21", nccl: "2.27.3", python: ["3.10", "3.11", "3.12", "3.13"]),
    ].filter { !without.contains("\($0.version)") }
    return catalog
}

/// A spec with Python 3.11, CUDA 12.6, cuDNN, NCCL and torch `torch`, comments and tags that
/// name its versions, and pip packages that `new` must leave alone.
public func seriesSpec(name: String = "v2.7", torch: String = "\"2.7\"", python: String = "3.11") -> String {
    """
    # torch 2.7 on CUDA 12.6 and Python \(python); `imagegen lock \(name)` pins it.
    name: \(name)
    description: PyTorch 2.7 / CUDA 12.6 / cuDNN 9.5.1.17 / Python \(python)
    base:
      release: bookworm
      packages: [curl]
    cuda:
      version: "12.6"
      flavour: runtime
    cudnn:
      version: 9.5.1.17
    nccl: {version: 2.26.2}
    python:
      version: "\(python)"
    torch:
      version: \(torch)   # follows the series
      with: [torchvision]
    packages:
      - numpy==2.7.0
      - scipy>=12.6
    config:
      labels:
        org.opencontainers.image.title: PyTorch 2.7 (CUDA 12.6)
      tags: [\(name), 2.7-cuda12.6-py\(python)]

    """
}

/// Writes `catalog` where `imagegen --catalog FILE` reads it (JSON, which is YAML too).
public func writeCatalog(_ catalog: Catalog, to path: String) throws {
    try writeFile(path, try CanonicalJSON.pretty(catalog))
}
