import Foundation

/// Reads `Images/NAME.yaml` (following `extends`) into an `ImageSpec`, refusing unknown keys,
/// wrong types, missing fields and bad values, each with the file and line.
public struct SpecLoader: Sendable {
    /// The directory holding the specs (`Images/`).
    public var directory: String

    /// A loader for specs in `directory`.
    public init(directory: String) { self.directory = directory }

    /// The path of a spec.
    public func path(of name: String) -> String { "\(directory)/\(name).yaml" }

    /// The names of all specs in the directory, sorted.
    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Loads and checks a spec by name.
    public func load(_ name: String) throws -> ImageSpec {
        try checkName(name)
        return try Self.decode(resolve(name, chain: []), name: name, file: displayPath(of: name))
    }

    /// Loads and checks `text` as if it were the spec `name` (following its `extends` from the
    /// directory): how a spec is checked before it is written.
    public func load(_ name: String, text: String) throws -> ImageSpec {
        try checkName(name)
        return try Self.decode(resolve(name, text: text, chain: []), name: name, file: displayPath(of: name))
    }

    /// Refuses a name that cannot be a spec's file name.
    public func checkName(_ name: String) throws {
        guard Self.isValidName(name) else {
            throw SpecError(file: path(of: name), line: nil, message: "'\(name)' is not a spec name (letters, digits, '.', '_' and '-')")
        }
    }

    /// The spec path as messages show it: relative when under the current directory.
    func displayPath(of name: String) -> String {
        let full = path(of: name)
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return full.hasPrefix(cwd) ? String(full.dropFirst(cwd.count)) : full
    }

    /// Reads a file's tree and lays it over its parent's (`extends`), refusing cycles.
    func resolve(_ name: String, chain: [String]) throws -> YAMLValue {
        let file = displayPath(of: name)
        if let start = chain.firstIndex(of: name) {
            let cycle = (chain[start...] + [name]).joined(separator: " → ")
            throw SpecError(file: file, line: nil, message: "extends cycle: \(cycle)")
        }
        guard FileManager.default.fileExists(atPath: path(of: name)) else {
            let known = names().joined(separator: ", ")
            let who = chain.last.map { " (extended by \($0))" } ?? ""
            throw SpecError(file: file, line: nil, message: "no such spec\(who); known specs: \(known.isEmpty ? "none" : known)")
        }
        guard let data = FileManager.default.contents(atPath: path(of: name)) else {
            throw SpecError(file: file, line: nil, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpecError(file: file, line: nil, message: "not UTF-8 text")
        }
        return try resolve(name, text: text, chain: chain)
    }

    /// Parses the text of spec `name` and lays it over its parent's (`extends`).
    func resolve(_ name: String, text: String, chain: [String]) throws -> YAMLValue {
        let file = displayPath(of: name)
        guard let tree = try YAMLValue.parse(text, file: file) else {
            throw SpecError(file: file, line: nil, message: "the file is empty; expected a mapping with at least 'name' and 'base'")
        }
        guard case .mapping(let entries, _) = tree else {
            throw SpecError(at: tree.location, "expected a mapping at the top level, got \(tree.kindName)")
        }
        guard let parentEntry = entries.first(where: { $0.key == "extends" }) else { return tree }
        guard case .scalar(let parent, _) = parentEntry.value, Self.isValidName(parent) else {
            throw SpecError(at: parentEntry.keyLocation, "extends: expected the name of another spec in \(directory)")
        }
        let parentTree = try resolve(parent, chain: chain + [name])
        // The child names itself; everything else it leaves out comes from the parent.
        return parentTree.removing(["name", "extends"]).merged(with: tree)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) }
    }

    // MARK: - Decoding

    static func decode(_ tree: YAMLValue, name: String, file: String) throws -> ImageSpec {
        var top = try MappingReader(tree, path: "")
        var locations: [String: SpecLocation] = [:]
        let specName = try top.requiredString("name", example: name)
        guard specName == name else {
            throw SpecError(at: top.line("name"), "name is '\(specName)' but the file is \(name).yaml; they must match")
        }
        let extends = try top.string("extends")
        let description = try top.string("description")
        // One section after the other, in the order a reader meets them (errors come in that order).
        let (base, platforms) = try decodeBase(&top, &locations)
        let driver = try decodeDriver(&top, &locations)
        let cuda = try decodeCUDA(&top, &locations)
        let cudnn = try component("cudnn", example: "9.5.1.17", CuDNNVersion.init(parsing:), &top, &locations).map(CuDNNComponent.init(version:))
        let nccl = try component("nccl", example: "2.26.2", NCCLVersion.init(parsing:), &top, &locations).map(NCCLComponent.init(version:))
        let python = try component("python", example: "\"3.11\"", PythonVersion.init(parsing:), &top, &locations).map(PythonComponent.init(version:))
        let torch = try decodeTorch(&top, &locations)
        let packages = try decodePackages(&top, &locations)
        let tools = try decodeTools(&top, &locations)
        let config = try decodeConfig(&top, &locations)
        try top.finish(component: true)
        return ImageSpec(
            name: name, extends: extends, description: description, base: base, driver: driver, cuda: cuda, cudnn: cudnn, nccl: nccl,
            python: python, torch: torch, packages: packages, tools: tools, config: config, locations: locations, platforms: platforms)
    }

    /// Records where `field` of `reader` is written, under `key`, when it is written.
    private static func note(_ key: String, _ reader: MappingReader, _ field: String, _ locations: inout [String: SpecLocation]) {
        if reader.entries.contains(where: { $0.key == field }) { locations[key] = reader.line(field) }
    }

    /// `base` (required) and `platforms`, whose first entry is the base's architecture.
    private static func decodeBase(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> (BaseOS, [String]?) {
        guard var baseReader = try top.mapping("base") else {
            throw SpecError(at: top.location, "base is missing (e.g. base: {distribution: debian, release: bookworm})")
        }
        let distribution = try baseReader.string("distribution") ?? "debian"
        guard distribution == "debian" else {
            throw SpecError(at: baseReader.line("distribution"), "base.distribution: only 'debian' is supported, got '\(distribution)'")
        }
        let release = try baseReader.requiredString("release", example: "bookworm")
        var architecture = try baseReader.string("architecture") ?? "amd64"
        guard ["amd64", "arm64"].contains(architecture) else {
            throw SpecError(at: baseReader.line("architecture"), "base.architecture: expected amd64 or arm64, got '\(architecture)'")
        }
        let platforms = try platformList(&top)
        if let first = platforms?.first {
            // The first platform is the base's: a written base.architecture must agree.
            let firstArchitecture = ImageSpec.architecture(of: first.0)
            if baseReader.entries.contains(where: { $0.key == "architecture" }), architecture != firstArchitecture {
                throw SpecError(
                    at: baseReader.line("architecture"),
                    "base.architecture '\(architecture)' disagrees with platforms, whose first entry (\(first.0)) is the base's; "
                        + "leave base.architecture out when the spec lists platforms")
            }
            architecture = firstArchitecture
            locations["platforms"] = top.line("platforms")
        }
        let basePackages = try uniqueList(&baseReader, "packages", what: "package")
        for (package, location) in basePackages { locations["base.packages.\(package)"] = location }
        // `false` is the default; only `true` is recorded, so older specs keep their digest.
        let minimal = try baseReader.bool("minimal") == true ? true : nil
        note("base.minimal", baseReader, "minimal", &locations)
        note("base", top, "base", &locations)
        try baseReader.finish()
        let base = BaseOS(distribution: distribution, release: release, architecture: architecture, packages: basePackages.map(\.0), minimal: minimal)
        return (base, platforms?.map(\.0))
    }

    /// `driver.minimum`, optional.
    private static func decodeDriver(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> DriverRequirement {
        var driver = DriverRequirement(minimum: nil)
        if var reader = try top.mapping("driver") {
            driver.minimum = try reader.version("minimum", DriverVersion.init(parsing:))
            note("driver.minimum", reader, "minimum", &locations)
            try reader.finish()
        }
        return driver
    }

    /// A component mapping with a required `version` (parsed by the type's own grammar) and
    /// whatever else `more` reads; nil when the spec has no such component.
    private static func component<V>(
        _ key: String, example: String, _ parse: (String) throws -> V, _ top: inout MappingReader, _ locations: inout [String: SpecLocation],
        more: (inout MappingReader, inout [String: SpecLocation]) throws -> Void = { _, _ in }
    ) throws -> V? {
        guard var reader = try top.mapping(key) else { return nil }
        guard let version = try reader.version("version", parse) else {
            throw SpecError(at: reader.location, "\(key).version is missing (e.g. version: \(example))")
        }
        note("\(key).version", reader, "version", &locations)
        try more(&reader, &locations)
        try reader.finish()
        return version
    }

    /// `cuda`: its version, flavour and wheel pins.
    private static func decodeCUDA(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> CUDAComponent? {
        var flavour = CUDAFlavour.runtime
        var pins: [String: PEP440Version]?
        return try component("cuda", example: "\"12.6\"", CUDAVersion.init(parsing:), &top, &locations) { reader, locations in
            let text = try reader.string("flavour") ?? "runtime"
            guard let value = CUDAFlavour(rawValue: text) else {
                throw SpecError(at: reader.line("flavour"), "cuda.flavour: expected runtime or devel, got '\(text)'")
            }
            flavour = value
            note("cuda.flavour", reader, "flavour", &locations)
            if var pinReader = try reader.mapping("pins") {
                var found: [String: PEP440Version] = [:]
                for entry in pinReader.entries {
                    let project = Self.projectName(entry.key)
                    guard project == entry.key.lowercased(), !project.isEmpty else {
                        throw SpecError(at: entry.keyLocation, "cuda.pins: '\(entry.key)' is not a wheel name in normal form (lower case, '-' between words, e.g. nvidia-cuda-runtime-cu12)")
                    }
                    guard found[project] == nil else { throw SpecError(at: entry.keyLocation, "cuda.pins: duplicate wheel '\(project)'") }
                    guard let version = try pinReader.version(entry.key, PEP440Version.init(parsing:)) else {
                        throw SpecError(at: entry.keyLocation, "cuda.pins.\(entry.key): expected a version (e.g. 12.6.77)")
                    }
                    found[project] = version
                    locations["cuda.pins.\(project)"] = entry.keyLocation
                }
                try pinReader.finish()
                pins = found
            }
        }.map { CUDAComponent(version: $0, flavour: flavour, pins: pins) }
    }

    /// `torch`: its version (or series) and companions.
    private static func decodeTorch(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> TorchComponent? {
        var companions: [String] = []
        return try component("torch", example: "2.7.0", PEP440Version.init(parsing:), &top, &locations) { reader, locations in
            companions = try uniqueList(&reader, "with", what: "companion").map(\.0)
            for companion in companions where !["torchvision", "torchaudio"].contains(companion) {
                throw SpecError(at: reader.line("with"), "torch.with: '\(companion)' is not a torch companion (expected torchvision or torchaudio)")
            }
            note("torch.with", reader, "with", &locations)
        }.map { TorchComponent(version: $0, companions: companions) }
    }

    /// `packages`: pip requirements, one project each.
    private static func decodePackages(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> PackageSet {
        var packageLines: [(String, SpecLocation)] = []
        if let value = top.value("packages") {
            guard case .sequence = value else {
                throw SpecError(at: value.location, "packages: expected a list of pip requirements, got \(value.kindName)")
            }
            var wrapper = try MappingReader(.mapping([("packages", value.location, value)], value.location), path: "")
            packageLines = try wrapper.locatedStrings("packages")
        }
        var seenPackages: [String: SpecLocation] = [:]
        for (requirement, location) in packageLines {
            let project = Self.projectName(requirement)
            guard !project.isEmpty else {
                throw SpecError(at: location, "packages: '\(requirement)' is not a pip requirement (e.g. jupyterlab or numpy==2.2.6)")
            }
            if let first = seenPackages[project] {
                throw SpecError(at: location, "packages: duplicate package '\(project)' (first at line \(first.line))")
            }
            seenPackages[project] = location
            locations["packages.\(project)"] = location
        }
        return PackageSet(requirements: packageLines.map(\.0))
    }

    /// `tools`: ssh, compiler, jupyter.
    private static func decodeTools(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> Tools {
        var tools = Tools(ssh: false, compiler: false, jupyter: false)
        if var reader = try top.mapping("tools") {
            tools.ssh = try reader.bool("ssh") ?? false
            tools.compiler = try reader.bool("compiler") ?? false
            tools.jupyter = try reader.bool("jupyter") ?? false
            for key in ["ssh", "compiler", "jupyter"] { note("tools.\(key)", reader, key, &locations) }
            try reader.finish()
        }
        return tools
    }

    /// `config`: the user, working directory, environment, ports, entrypoint, command, labels, tags.
    private static func decodeConfig(_ top: inout MappingReader, _ locations: inout [String: SpecLocation]) throws -> ImageConfigSpec {
        var config = ImageConfigSpec(user: nil, workdir: nil, env: [:], ports: [], entrypoint: nil, cmd: nil, labels: [:], tags: [])
        guard var reader = try top.mapping("config") else { return config }
        if var user = try reader.mapping("user") {
            let userName = try user.requiredString("name", example: "dev")
            guard userName.range(of: "^[a-z_][a-z0-9_-]{0,31}$", options: .regularExpression) != nil, userName != "root" else {
                throw SpecError(at: user.line("name"), "config.user.name: '\(userName)' is not a valid non-root user name")
            }
            let uid = try user.int("uid", range: 1...60000) ?? 1000
            let gid = try user.int("gid", range: 1...60000) ?? uid
            try user.finish()
            config.user = UserSpec(name: userName, uid: uid, gid: gid)
        }
        config.workdir = try reader.string("workdir")
        if let workdir = config.workdir, !workdir.hasPrefix("/") {
            throw SpecError(at: reader.line("workdir"), "config.workdir: expected an absolute path, got '\(workdir)'")
        }
        config.env = try reader.stringMap("env") ?? [:]
        for key in config.env.keys where key.isEmpty || key.contains("=") {
            throw SpecError(at: reader.line("env"), "config.env: '\(key)' is not a variable name")
        }
        for port in try reader.locatedStrings("ports") {
            guard let number = Int(port.0), (1...65535).contains(number) else {
                throw SpecError(at: port.1, "config.ports: expected a port from 1 to 65535, got '\(port.0)'")
            }
            guard !config.ports.contains(number) else {
                throw SpecError(at: port.1, "config.ports: duplicate port \(number)")
            }
            config.ports.append(number)
        }
        config.entrypoint = try reader.strings("entrypoint")
        config.cmd = try reader.strings("cmd")
        config.labels = try reader.stringMap("labels") ?? [:]
        for (tag, location) in try reader.locatedStrings("tags") {
            guard tag.range(of: "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", options: .regularExpression) != nil else {
                throw SpecError(at: location, "config.tags: '\(tag)' is not a valid tag (letters, digits, '.', '_', '-'; at most 128)")
            }
            guard !config.tags.contains(tag) else { throw SpecError(at: location, "config.tags: duplicate tag '\(tag)'") }
            config.tags.append(tag)
            locations["config.tags.\(tag)"] = location
        }
        try reader.finish()
        return config
    }

    /// `platforms:` — `linux/amd64` and/or `linux/arm64`, each once; nil when not written.
    private static func platformList(_ top: inout MappingReader) throws -> [(String, SpecLocation)]? {
        let written = top.entries.contains { $0.key == "platforms" }
        let items = try uniqueList(&top, "platforms", what: "platform")
        guard written else { return nil }
        guard !items.isEmpty else {
            throw SpecError(at: top.line("platforms"), "platforms: an empty list; name linux/amd64, linux/arm64 or both (or leave the key out)")
        }
        for (platform, location) in items where !ImageSpec.supportedPlatforms.contains(platform) {
            throw SpecError(at: location, "platforms: expected linux/amd64 or linux/arm64, got '\(platform)'")
        }
        return items
    }

    /// A list of names, none empty, none twice, each with where it was written.
    private static func uniqueList(_ reader: inout MappingReader, _ key: String, what: String) throws -> [(String, SpecLocation)] {
        var out: [(String, SpecLocation)] = []
        for (item, location) in try reader.locatedStrings(key) {
            guard !item.isEmpty else { throw SpecError(at: location, "\(reader.name(key)): an empty \(what) name") }
            guard !out.contains(where: { $0.0 == item }) else {
                throw SpecError(at: location, "\(reader.name(key)): duplicate \(what) '\(item)'")
            }
            out.append((item, location))
        }
        return out
    }

    /// The project name of a pip requirement, normalised (PEP 503): `Foo_Bar>=1` → `foo-bar`.
    public static func projectName(_ requirement: String) -> String {
        let name = requirement.prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        var out = ""
        var lastWasSeparator = false
        for c in name.lowercased() {
            if "-_.".contains(c) {
                if !lastWasSeparator { out.append("-") }
                lastWasSeparator = true
            } else {
                out.append(c)
                lastWasSeparator = false
            }
        }
        return out
    }
}

extension YAMLValue {
    /// A mapping without the given top-level keys.
    func removing(_ keys: Set<String>) -> YAMLValue {
        guard case .mapping(let entries, let location) = self else { return self }
        return .mapping(entries.filter { !keys.contains($0.key) }, location)
    }
}
