import Foundation
import Yams

/// A wheel's file name, parsed: `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
/// each tag part possibly a `.`-separated set (the binary distribution format).
public struct WheelFileName: Hashable, Sendable {
    /// The distribution, as the file name spells it (`torch`, `nvidia_cudnn_cu12`).
    public var distribution: String
    /// The version.
    public var version: PEP440Version
    /// Python tags (`cp312`, `py3`).
    public var pythonTags: [String]
    /// ABI tags (`cp312`, `cp313t`, `none`).
    public var abiTags: [String]
    /// Platform tags (`manylinux_2_28_x86_64`, `win_amd64`, `any`).
    public var platformTags: [String]

    /// Parses a file name; `nil` when it is not a wheel's.
    public init?(_ fileName: String) {
        guard fileName.hasSuffix(".whl") else { return nil }
        let parts = fileName.dropLast(4).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5 || parts.count == 6, let version = try? PEP440Version(parsing: parts[1]) else { return nil }
        distribution = parts[0]
        self.version = version
        pythonTags = parts[parts.count - 3].split(separator: ".").map(String.init)
        abiTags = parts[parts.count - 2].split(separator: ".").map(String.init)
        platformTags = parts[parts.count - 1].split(separator: ".").map(String.init)
    }

    /// The CPython versions of its tags (`cp312` → 3.12).
    public var cpythonVersions: [PythonVersion] {
        pythonTags.compactMap { tag in
            guard tag.hasPrefix("cp"), tag.count >= 4, let major = tag.dropFirst(2).first, major.isNumber else { return nil }
            return try? PythonVersion(parsing: "\(major).\(tag.dropFirst(3))")
        }
    }

    /// The Linux machine it is for (`x86_64`, `aarch64`), from a `manylinux`/`linux` tag.
    public var linuxMachine: String? {
        for tag in platformTags where tag.hasPrefix("manylinux") || tag.hasPrefix("linux") {
            for machine in ["x86_64", "aarch64", "ppc64le", "s390x", "i686", "armv7l"] where tag.hasSuffix("_" + machine) {
                return machine
            }
        }
        return nil
    }

    /// Whether it is a free-threaded build (`cp313t`): the same Python version, another ABI.
    public var isFreeThreaded: Bool { abiTags.contains { $0.hasPrefix("cp") && $0.hasSuffix("t") } }
}

/// A `Requires-Dist` line, parsed as far as the catalog needs: `name[extras] specifier; marker`.
public struct Requirement: Hashable, Sendable {
    /// The normalised project name (`nvidia-cudnn-cu12`).
    public var name: String
    /// The extras in brackets (`cublas`, `cudart`, … of `cuda-toolkit[…]`).
    public var extras: [String]
    /// The version specifier (`==9.5.1.17`, `>=13.0.3,<14`), spaces removed.
    public var specifier: String
    /// The environment marker after `;`, as written; empty when there is none.
    public var marker: String

    /// Parses one line; `nil` when it has no name.
    public init?(_ line: String) {
        let halves = line.split(separator: ";", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        marker = halves.count == 2 ? halves[1] : ""
        var rest = Substring(halves.first ?? "")
        let nameEnd = rest.firstIndex { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") } ?? rest.endIndex
        let name = rest[..<nameEnd]
        guard !name.isEmpty else { return nil }
        self.name = SpecLoader.projectName(String(name))
        rest = rest[nameEnd...].drop { $0 == " " }
        extras = []
        if rest.first == "[", let close = rest.firstIndex(of: "]") {
            extras = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            rest = rest[rest.index(after: close)...]
        }
        specifier = rest.filter { $0 != " " && $0 != "(" && $0 != ")" }
    }

    /// The version of an exact `==V` pin; `nil` for any other specifier.
    public var pinnedVersion: String? {
        guard specifier.hasPrefix("=="), !specifier.contains(","), !specifier.hasPrefix("===") else { return nil }
        return String(specifier.dropFirst(2))
    }

    /// Whether it applies only with an extra (`extra == "…"` in its marker).
    public var needsExtra: Bool { marker.contains("extra") }
}

/// What `imagegen catalog refresh` learns from a package index, and how it joins the catalog.
/// Network-free: the Artifacts module reads the index and hands the facts here.
public enum CatalogRefresh {
    /// The oldest torch release the catalog follows.
    public static let oldestTorch: PEP440Version = try! PEP440Version(parsing: "2.6.0")  // a literal that parses

    /// The companions whose versions are read from their own `Requires-Dist` on torch.
    public static let companions = ["torchvision", "torchaudio"]

    /// Whether a `Requires-Dist` name belongs to the CUDA stack the catalog records: NVIDIA's
    /// libraries (`nvidia-*`), `cuda-*` (the `cuda-toolkit[…]` metapackage, `cuda-bindings`),
    /// triton.
    public static func isStackPin(_ name: String) -> Bool {
        name.hasPrefix("nvidia-") || name.hasPrefix("cuda-") || name == "triton" || name.hasPrefix("pytorch-triton")
    }

    /// One torch wheel whose metadata was read.
    public struct TorchWheel: Hashable, Sendable {
        /// Its file name.
        public var file: String
        /// Its SHA-256 (hex), from the index.
        public var sha256: String
        /// Its `Requires-Dist` lines, all of them.
        public var requiresDist: [String]

        /// A wheel and its metadata.
        public init(file: String, sha256: String, requiresDist: [String]) {
            self.file = file
            self.sha256 = sha256
            self.requiresDist = requiresDist
        }
    }

    /// A companion release and the torch it pins.
    public struct CompanionPin: Hashable, Sendable {
        /// `torchvision` or `torchaudio`.
        public var project: String
        /// Its version.
        public var version: PEP440Version
        /// The torch it requires exactly.
        public var torch: PEP440Version
        /// Its wheel's file name and SHA-256.
        public var source: String

        /// A companion fact.
        public init(project: String, version: PEP440Version, torch: PEP440Version, source: String) {
            self.project = project
            self.version = version
            self.torch = torch
            self.source = source
        }
    }

    /// The build a wheel's pins describe: CUDA from `cuda-toolkit[…]==V` or
    /// `nvidia-cuda-runtime(-cuNN)==V`, cuDNN and NCCL from their `nvidia-*` pins, triton when
    /// pinned exactly. `nil` for a wheel without CUDA pins (a CPU build).
    public static func build(from wheel: TorchWheel) -> TorchBuild? {
        let pins = wheel.requiresDist.compactMap(Requirement.init).filter { !$0.needsExtra }
        func pin(_ matches: (String) -> Bool) -> (Requirement, String)? {
            for requirement in pins where matches(requirement.name) {
                if let version = requirement.pinnedVersion { return (requirement, version) }
            }
            return nil
        }
        let familyMember = { (family: String) in { (name: String) in name == family || name.hasPrefix(family + "-cu") } }
        guard let (cudaPin, cudaText) = pin({ $0 == "cuda-toolkit" }) ?? pin(familyMember("nvidia-cuda-runtime")),
              let cuda = try? CUDAVersion(parsing: cudaText.split(separator: ".").prefix(2).joined(separator: ".")),
              let (cudnnPin, cudnnText) = pin(familyMember("nvidia-cudnn")), let cudnn = try? CuDNNVersion(parsing: cudnnText),
              let (ncclPin, ncclText) = pin(familyMember("nvidia-nccl")), let nccl = try? NCCLVersion(parsing: ncclText)
        else { return nil }
        let triton = pin { $0 == "triton" || $0.hasPrefix("pytorch-triton") }
        let named = [cudaPin, cudnnPin, ncclPin] + (triton.map { [$0.0] } ?? [])
        let spelled = named.map { r in r.name + (r.extras.isEmpty ? "" : "[…]") + r.specifier }.joined(separator: ", ")
        return TorchBuild(
            cuda: cuda, isDefault: true, cudnn: cudnn, nccl: nccl, triton: triton.flatMap { try? PEP440Version(parsing: $0.1) },
            source: "\(wheel.file) (sha256:\(wheel.sha256)) Requires-Dist: \(spelled)")
    }

    /// A torch release as the index describes it, joined with what the catalog already knows
    /// of it: the index's facts replace the catalog's, builds the index does not serve (other
    /// CUDA indexes, hand-kept with their sources) stay.
    ///
    /// - Parameters:
    ///   - fileNames: every wheel file name of the release on the index.
    ///   - wheels: the wheels whose metadata was read, one per Linux machine, x86_64 first.
    public static func release(
        version: PEP440Version, fileNames: [String], wheels: [TorchWheel], companions: [CompanionPin], existing: TorchRelease?
    ) -> TorchRelease {
        let parsed = fileNames.compactMap(WheelFileName.init)
        let python = Set(parsed.flatMap(\.cpythonVersions)).sorted()
        let platforms = Set(parsed.flatMap(\.platformTags)).sorted()
        var companionVersions = existing?.companions ?? [:]
        var companionSources = existing?.companionSources ?? [:]
        for project in Self.companions {
            guard let newest = companions.filter({ $0.project == project && $0.torch.publicVersion == version.publicVersion })
                .max(by: { $0.version < $1.version }) else { continue }
            companionVersions[project] = newest.version
            companionSources[project] = newest.source
        }
        var builds = existing?.builds ?? []
        if let derived = wheels.first.flatMap(build(from:)) {
            builds = [derived] + builds.filter { !$0.cuda.matches(derived.cuda) }.map { var b = $0; b.isDefault = false; return b }
        }
        let sources = wheels.map { wheel in
            WheelSource(
                file: wheel.file, sha256: wheel.sha256,
                pins: wheel.requiresDist.filter { Requirement($0).map { isStackPin($0.name) } ?? false }
                    .map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return TorchRelease(
            version: version, python: python, companions: companionVersions, builds: builds,
            source: "the index's \(parsed.count) torch \(version) wheel file names (Python and platform tags)",
            platforms: platforms, wheels: sources, companionSources: companionSources.isEmpty ? nil : companionSources)
    }

    /// The catalog with `releases` in place of the releases of the same versions, the others
    /// kept; sorted by version.
    public static func merge(_ catalog: Catalog, releases: [TorchRelease]) -> Catalog {
        var merged = catalog
        let refreshed = Set(releases.map(\.version.publicVersion))
        merged.torch = (catalog.torch.filter { !refreshed.contains($0.version.publicVersion) } + releases).sorted { $0.version < $1.version }
        return merged
    }

    /// What the index has that `current` lacks, one sentence each: releases it does not list,
    /// releases whose facts differ (naming the facts).
    public static func differences(current: Catalog, refreshed: [TorchRelease]) -> [String] {
        refreshed.sorted { $0.version < $1.version }.compactMap { release in
            guard let known = current.torch(release.version) else {
                let build = release.defaultBuild.map { ", CUDA \($0.cuda), cuDNN \($0.cudnn), NCCL \($0.nccl)" } ?? ""
                return "torch \(release.version): on the index (Python \(release.python.map(\.description).joined(separator: ", "))\(build)), not in the catalog"
            }
            var fields: [String] = []
            if known.python != release.python { fields.append("python") }
            if known.platforms != release.platforms { fields.append("platforms") }
            if known.wheels != release.wheels { fields.append("wheels and their pins") }
            if known.companions != release.companions || known.companionSources != release.companionSources { fields.append("companions") }
            if known.builds != release.builds { fields.append("builds") }
            if known.source != release.source { fields.append("source") }
            return fields.isEmpty ? nil : "torch \(release.version): the index's \(fields.joined(separator: ", ")) differ from the catalog's"
        }
    }

    /// CUDA releases that refreshed builds use but the hand-kept driver table lacks.
    public static func missingDriverRows(_ catalog: Catalog) -> [String] {
        catalog.torch.flatMap { release in
            release.builds.filter { catalog.cuda($0.cuda) == nil }.map {
                "CUDA \($0.cuda.majorMinor) (torch \(release.version)) has no row in the catalog's cuda table: add its drivers by hand, with their source"
            }
        }
    }

    /// The catalog file's text with its `torch:` section replaced by `releases`: everything else
    /// (the header, the hand-kept sections and their comments) stays as written.
    public static func yaml(replacingTorchIn text: String, with releases: [TorchRelease]) throws -> String {
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        func isTopLevelKey(_ line: String) -> Bool {
            guard let first = line.first else { return false }
            return first != " " && first != "-" && first != "#" && line.contains(":")
        }
        let start = lines.firstIndex { $0.hasPrefix("torch:") }
        var end = start.map { s in lines[(s + 1)...].firstIndex(where: isTopLevelKey) ?? lines.count } ?? lines.count
        // Comments just before the next key belong to it.
        if let s = start {
            while end > s + 1, lines[end - 1].hasPrefix("#") || lines[end - 1].isEmpty { end -= 1 }
            while end < lines.count, lines[end].isEmpty { end += 1 }
        }
        let encoder = YAMLEncoder()
        encoder.options.width = -1
        encoder.options.allowUnicode = true
        encoder.options.indent = 2
        let section = try encoder.encode(TorchSection(torch: releases)).trimmingCharacters(in: .newlines)
        let replaced: [String]
        if let start {
            replaced = Array(lines[..<start]) + [section, ""] + Array(lines[end...])
        } else {
            replaced = [section, ""] + lines
        }
        return replaced.joined(separator: "\n") + "\n"
    }

    struct TorchSection: Encodable {
        var torch: [TorchRelease]
    }
}

extension Requirement {
    /// Whether the marker's `platform_machine` clauses let it apply on `machine` (`x86_64`,
    /// `aarch64`): true without such a clause, or when an `==` clause names the machine (and no
    /// `!=` clause does). Other parts of the marker are not evaluated.
    public func applies(onMachine machine: String) -> Bool {
        var equal: [String] = []
        var rest = Substring(marker)
        while let range = rest.range(of: "platform_machine") {
            rest = rest[range.upperBound...].drop { $0 == " " }
            let negated = rest.hasPrefix("!=")
            guard rest.hasPrefix("==") || negated else { continue }
            rest = rest.dropFirst(2).drop { $0 == " " }
            guard let quote = rest.first, quote == "\"" || quote == "'" else { continue }
            let value = rest.dropFirst().prefix { $0 != quote }
            rest = rest.dropFirst(value.count + 1)
            if negated {
                if value == machine { return false }
            } else {
                equal.append(String(value))
            }
        }
        return equal.isEmpty || equal.contains(machine)
    }
}

extension TorchRelease {
    /// The Linux machines (`x86_64`, `aarch64`) whose wheel of this release asks for NVIDIA's
    /// CUDA libraries there: a `nvidia-*` or `cuda-toolkit` pin whose marker applies on that
    /// machine. Before 2.11.0 the aarch64 wheel's CUDA pins carry `platform_machine == "x86_64"`,
    /// so it is a CPU build. Hand-kept releases (no `wheels`) are facts for x86_64 alone.
    public var cudaMachines: [String] {
        guard let wheels else { return ["x86_64"] }
        var machines: [String] = []
        for wheel in wheels {
            guard let machine = WheelFileName(wheel.file)?.linuxMachine, !machines.contains(machine) else { continue }
            let asksForCUDA = wheel.pins.compactMap(Requirement.init).contains {
                ($0.name.hasPrefix("nvidia-") || $0.name == "cuda-toolkit") && !$0.needsExtra && $0.applies(onMachine: machine)
            }
            if asksForCUDA { machines.append(machine) }
        }
        return machines
    }
}
