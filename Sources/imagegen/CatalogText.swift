import ImageModel

/// The catalog as text for people.
enum CatalogText {
    /// One line per torch release, then the CUDA driver table.
    static func summary(_ catalog: Catalog) -> [String] {
        var lines = ["torch    python      default build                                   CUDA on         companions"]
        for release in catalog.torch {
            let python = pythonRange(release.python)
            let build = release.defaultBuild.map { b in
                "CUDA \(b.cuda), cuDNN \(b.cudnn), NCCL \(b.nccl)" + (b.triton.map { ", triton \($0)" } ?? "")
            } ?? "-"
            let companions = release.companions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let machines = release.cudaMachines.joined(separator: ", ")
            lines.append(pad("\(release.version)", 8) + " " + pad(python, 11) + " " + pad(build, 47) + " " + pad(machines, 15) + " " + companions)
        }
        lines.append("")
        lines.append("CUDA  toolkit driver  minor-version minimum  forward branches")
        for cuda in catalog.cuda {
            lines.append(pad("\(cuda.version)", 5) + " " + pad("\(cuda.toolkitDriver)", 15) + " " + pad("\(cuda.minorVersionMinimum)", 22)
                + " " + cuda.forwardBranches.map(String.init).joined(separator: ", "))
        }
        return lines
    }

    /// A release's facts, each with its source.
    static func release(_ release: TorchRelease) -> [String] {
        var lines = ["torch \(release.version)"]
        lines.append("  python: \(release.python.map(\.description).joined(separator: ", "))")
        if let platforms = release.platforms { lines.append("  platforms: \(platforms.joined(separator: ", "))") }
        lines.append("    source: \(release.source)")
        lines.append("  CUDA wheels for: \(release.cudaMachines.joined(separator: ", "))"
            + (release.wheels == nil ? " (hand-kept facts, for x86_64)" : " (where its wheels' NVIDIA pins apply)"))
        for (name, version) in release.companions.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name): \(version)")
            if let source = release.companionSources?[name] { lines.append("    source: \(source)") }
        }
        for build in release.builds {
            let tags = (build.isDefault ? ["default"] : []) + (build.experimental ? ["experimental"] : [])
            lines.append("  build CUDA \(build.cuda)\(tags.isEmpty ? "" : " (\(tags.joined(separator: ", ")))"): cuDNN \(build.cudnn), NCCL \(build.nccl)"
                + (build.triton.map { ", triton \($0)" } ?? ""))
            lines.append("    source: \(build.source)")
        }
        for wheel in release.wheels ?? [] {
            lines.append("  pins of \(wheel.file) (sha256:\(wheel.sha256)):")
            for pin in wheel.pins { lines.append("    \(pin)") }
        }
        return lines
    }

    static func pythonRange(_ versions: [PythonVersion]) -> String {
        guard let first = versions.first, let last = versions.last else { return "-" }
        return first == last ? "\(first)" : "\(first)–\(last)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
