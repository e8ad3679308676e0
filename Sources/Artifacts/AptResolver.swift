import Foundation
import OCI
import SystemSupport

/// Resolves Debian packages to exact `.deb` artifacts by asking apt, never a solver of our own
/// (DESIGN.md, decision 4).
///
/// apt runs against a private state directory under `cacheDirectory`: its own lists, its own
/// cache and an empty dpkg status, so the host's installed packages neither hide nor constrain
/// anything and nothing is installed. `apt-get update` fills the lists from the sources, then
/// `apt-get install --print-uris` computes the closure. apt prints MD5 sums only, so each
/// chosen package's `SHA256`, `Size` and `Filename` are read from the same private lists.
///
/// One resolver may run at a time per state directory; a second waits on a lock file.
public struct AptResolver: Sendable {
    /// Where apt's sources come from.
    public enum Sources: Hashable, Sendable {
        /// The host's own apt configuration (`/etc/apt/sources.list` and
        /// `/etc/apt/sources.list.d/`, `.list` and deb822 `.sources` alike).
        case host
        /// One-line-style entries, e.g. `deb [trusted=yes] http://127.0.0.1:8080/ ./`.
        case lines([String])
        /// A sources file: deb822 when its name ends in `.sources`, one-line style otherwise.
        case file(path: String)

        /// Reads a flag's or environment variable's value: one-line-style entries (separated by
        /// newlines) when it starts with `deb`, a path to a sources file otherwise.
        public init(argument: String) {
            let trimmed = argument.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("deb ") || trimmed.hasPrefix("deb-src ") || trimmed.hasPrefix("deb\t") {
                self = .lines(trimmed.split(whereSeparator: \.isNewline).map(String.init))
            } else {
                self = .file(path: trimmed)
            }
        }
    }

    /// The directory under which the private apt state lives (`apt/<key>/`).
    public var cacheDirectory: String
    /// The Debian architecture to resolve for (`amd64`).
    public var architecture: String
    /// Where the packages come from.
    public var sources: Sources

    /// A resolver for `architecture` over `sources`, keeping its state under `cacheDirectory`.
    public init(cacheDirectory: String, architecture: String = "amd64", sources: Sources = .host) {
        self.cacheDirectory = cacheDirectory
        self.architecture = architecture
        self.sources = sources
    }

    /// The exact artifacts of `requests` and everything they depend on (recommends left out),
    /// sorted by name then architecture.
    ///
    /// - Parameter includeBaseSystem: also ask for every package of the lists that is
    ///   `Essential: yes` or `Priority: required` (for this architecture or `all`): with an
    ///   empty dpkg status apt would otherwise leave out what every Debian system has.
    public func resolve(_ requests: [AptPackageRequest], includeBaseSystem: Bool = false) async throws -> [ResolvedDeb] {
        try await resolve(closures: [requests], includeBaseSystem: includeBaseSystem)[0]
    }

    /// The closures of several request sets (one per image component, say) after a single
    /// `apt-get update`: one result per set, in order, each as ``resolve(_:includeBaseSystem:)``
    /// would give it.
    public func resolve(closures requestSets: [[AptPackageRequest]], includeBaseSystem: Bool = false) async throws -> [[ResolvedDeb]] {
        let state = try prepareState()
        return try await state.withLock {
            // apt-get update ignores an unreachable source with a warning and exits 0;
            // `--error-on=any` (apt 2.2+) makes every failed fetch an error.
            try await aptGet(["update", "-q", "--error-on=any"], state: state, label: "apt-get update")
            let index = try PackagesIndex(listsDirectory: state.lists)
            var results: [[ResolvedDeb]] = []
            for requests in requestSets {
                results.append(try await closure(of: requests, includeBaseSystem: includeBaseSystem, index: index, state: state))
            }
            return results
        }
    }

    /// One `apt-get install --print-uris` over the lists already in `state`.
    private func closure(
        of requests: [AptPackageRequest], includeBaseSystem: Bool, index: PackagesIndex, state: State
    ) async throws -> [ResolvedDeb] {
        var asked = requests
        if includeBaseSystem {
            let named = Set(requests.map(\.name))
            let base = index.baseSystem(architecture: architecture).subtracting(named)
            asked += try base.sorted().map { try AptPackageRequest(name: $0) }
        }
        guard !asked.isEmpty else { return [] }

        // `-q`, not `-qq`: at `-qq` apt drops the unmet dependencies that explain a failure.
        let output = try await aptGet(
            ["install", "--print-uris", "-q", "-y", "--no-install-recommends"] + asked.sorted().map(\.description),
            state: state, label: "apt-get install")
        var resolved: [ResolvedDeb] = []
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("'") {
            let uri = try PrintedURI(line: String(line))
            resolved.append(try index.artifact(for: uri))
        }
        return resolved.sorted { ($0.name, $0.architecture) < ($1.name, $1.architecture) }
    }

    // MARK: - Private state

    /// The paths of one private apt state.
    struct State: Sendable {
        var root: String
        var lists: String { "\(root)/state/lists" }
        var options: [String]

        /// Runs `body` holding the state's lock file, so that two resolvers never share lists
        /// mid-update.
        func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
            let lock = try FileLock(path: "\(root)/lock")
            try await lock.acquire()
            defer { lock.release() }
            return try await body()
        }
    }

    /// Creates (or reuses) the private state for this architecture and these sources.
    func prepareState() throws -> State {
        let key: String
        var sourceFile: (name: String, contents: [UInt8])? = nil
        switch sources {
        case .host:
            key = "host"
        case .lines(let lines):
            let contents = Array((lines.joined(separator: "\n") + "\n").utf8)
            sourceFile = ("imagegen.list", contents)
            key = Digest.of(contents).encoded
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ArtifactsError.io(path: path, reason: "cannot read the apt sources file")
            }
            let contents = Array(data)
            sourceFile = (path.hasSuffix(".sources") ? "imagegen.sources" : "imagegen.list", contents)
            key = Digest.of(contents + Array(path.utf8)).encoded
        }
        // One state per architecture and source set: lists of unrelated sources never mix.
        let root = "\(cacheDirectory)/apt/\(architecture)-\(key.prefix(16))"
        let fm = FileManager.default
        do {
            for dir in ["state/lists/partial", "cache/archives/partial", "sources.list.d"] {
                try fm.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
            }
            // Always empty: apt must see a system with nothing installed.
            try Data().write(to: URL(fileURLWithPath: "\(root)/status"))
            // Update hooks of the host (PackageKit, command-not-found, …) are about the host's
            // lists, not ours; apt.conf(5) `#clear` drops them for our runs.
            let conf = """
                #clear APT::Update::Pre-Invoke;
                #clear APT::Update::Post-Invoke;
                #clear APT::Update::Post-Invoke-Success;

                """
            try Data(conf.utf8).write(to: URL(fileURLWithPath: "\(root)/apt.conf"))
            let parts = "\(root)/sources.list.d"
            for old in try fm.contentsOfDirectory(atPath: parts) { try fm.removeItem(atPath: "\(parts)/\(old)") }
            if let sourceFile {
                try Data(sourceFile.contents).write(to: URL(fileURLWithPath: "\(parts)/\(sourceFile.name)"))
            }
        } catch let error as ArtifactsError {
            throw error
        } catch {
            throw ArtifactsError.io(path: root, reason: error.localizedDescription)
        }

        var options = [
            "-c", "\(root)/apt.conf",
            "-o", "Dir::State=\(root)/state",
            "-o", "Dir::State::status=\(root)/status",
            "-o", "Dir::Cache=\(root)/cache",
            "-o", "APT::Architecture=\(architecture)",
            // Not the host's foreign architectures (dpkg --print-foreign-architectures).
            "-o", "APT::Architectures=\(architecture)",
            "-o", "Debug::NoLocking=1",
            // Hosts built from Docker images keep lists compressed; ours are read as text.
            "-o", "Acquire::GzipIndexes=false",
            "-o", "Acquire::Languages=none",
        ]
        if sourceFile != nil {
            options += [
                "-o", "Dir::Etc::SourceList=/dev/null",
                "-o", "Dir::Etc::SourceParts=\(root)/sources.list.d",
            ]
        }
        // As root apt downloads as `_apt`, which cannot enter a private directory under root's
        // home; say that root downloading is intended (apt otherwise warns and does it anyway).
        if geteuid() == 0 { options += ["-o", "APT::Sandbox::User=root"] }
        return State(root: root, options: options)
    }

    /// Runs apt-get with the state's options (in `directory` when given); throws apt's own error
    /// lines when it fails.
    @discardableResult
    func aptGet(_ arguments: [String], state: State, label: String, directory: String? = nil) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        // apt's messages are parsed ("E: …"), so they must not be translated.
        environment["LC_ALL"] = "C"
        environment["LANGUAGE"] = nil
        environment["DEBIAN_FRONTEND"] = "noninteractive"
        let output: ProcessOutput
        do {
            output = try await Subprocess("apt-get", state.options + arguments, environment: environment, directory: directory).run()
        } catch let error as SubprocessError {
            throw ArtifactsError.aptFailed(command: label, message: error.description)
        }
        guard output.status == .exited(0) else {
            throw ArtifactsError.aptFailed(command: label, message: Self.errorMessage(output))
        }
        return output.stdoutText
    }

    /// apt's own explanation of a failure: the unmet dependencies it printed on stdout, then
    /// its `E:` lines; the last line of stderr when it printed neither.
    static func errorMessage(_ output: ProcessOutput) -> String {
        var lines: [String] = []
        var inProblems = false
        for line in output.stdoutText.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.contains("unmet dependencies") {
                inProblems = true
                lines.append(text)
            } else if inProblems && !text.isEmpty && !text.hasPrefix("'") {
                lines.append(text)
            }
        }
        lines += output.stderrText.split(whereSeparator: \.isNewline)
            .filter { $0.hasPrefix("E: ") }
            .map { String($0.dropFirst(3)) }
        if lines.isEmpty {
            let last = output.stderrText.split(whereSeparator: \.isNewline).last.map(String.init)
            lines = [last ?? "\(output.status)"]
        }
        return lines.joined(separator: "; ")
    }
}

/// One line of `apt-get install --print-uris`: `'URI' FILE SIZE MD5Sum:…`.
///
/// FILE is apt's store name, `NAME_VERSION_ARCH.deb`, each part quoted so that it holds no
/// `_` and no `:` (`%5f`, `%3a`); the URI is used only to tell apart identical versions listed
/// by two sources and is never kept.
struct PrintedURI {
    var uri: String
    var name: String
    var version: String
    var architecture: String
    var size: Int64

    init(line: String) throws {
        let rest = line.dropFirst()
        guard let close = rest.firstIndex(of: "'") else {
            throw ArtifactsError.unexpectedOutput(tool: "apt-get --print-uris", reason: "no closing quote in: \(line)")
        }
        uri = String(rest[..<close]).percentDecoded
        let fields = rest[rest.index(after: close)...].split(separator: " ")
        guard fields.count >= 2, let size = Int64(fields[1]) else {
            throw ArtifactsError.unexpectedOutput(tool: "apt-get --print-uris", reason: "expected 'URI' FILE SIZE HASH")
        }
        guard let stored = Self.storeName(fields[0]) else {
            throw ArtifactsError.unexpectedOutput(
                tool: "apt-get --print-uris", reason: "file name '\(fields[0])' is not NAME_VERSION_ARCH.deb")
        }
        (name, version, architecture) = stored
        self.size = size
    }

    /// Splits and decodes apt's store name, `NAME_VERSION_ARCH.deb` (the name `--print-uris`
    /// prints and `apt-get download` writes); `nil` when it has not three parts.
    static func storeName(_ fileName: some StringProtocol) -> (name: String, version: String, architecture: String)? {
        var file = Substring(fileName)
        if let dot = file.lastIndex(of: ".") { file = file[..<dot] }
        let parts = file.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        return (String(parts[0]).percentDecoded, String(parts[1]).percentDecoded, String(parts[2]).percentDecoded)
    }
}

/// The binary package entries of a private state's `Packages` lists.
struct PackagesIndex {
    struct Entry {
        var version: String
        var architecture: String
        var poolPath: String
        var size: Int64?
        var sha256: String?
        var essential: Bool
        var required: Bool
    }

    private var entries: [String: [Entry]] = [:]

    /// Reads every `*_Packages` file in apt's lists directory.
    init(listsDirectory: String) throws {
        let fm = FileManager.default
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: listsDirectory).filter { $0.hasSuffix("_Packages") }.sorted()
        } catch {
            throw ArtifactsError.io(path: listsDirectory, reason: error.localizedDescription)
        }
        let fields: Set<String> = ["package", "version", "architecture", "filename", "size", "sha256", "essential", "priority"]
        for name in names {
            let path = "\(listsDirectory)/\(name)"
            guard let data = fm.contents(atPath: path) else {
                throw ArtifactsError.io(path: path, reason: "cannot read")
            }
            for paragraph in ControlFile.paragraphs(data, fields: fields) {
                guard let package = paragraph["package"], let version = paragraph["version"],
                      let filename = paragraph["filename"]
                else { continue }
                var poolPath = Substring(filename)
                while poolPath.hasPrefix("./") { poolPath = poolPath.dropFirst(2) }
                entries[package, default: []].append(
                    Entry(
                        version: version, architecture: paragraph["architecture"] ?? "",
                        poolPath: String(poolPath), size: paragraph["size"].flatMap { Int64($0) },
                        sha256: paragraph["sha256"]?.lowercased(),
                        essential: paragraph["essential"]?.lowercased() == "yes",
                        required: paragraph["priority"]?.lowercased() == "required"))
            }
        }
    }

    /// Whether the lists describe this exact package version for this architecture.
    func offers(name: String, version: String, architecture: String) -> Bool {
        (entries[name] ?? []).contains { $0.version == version && $0.architecture == architecture }
    }

    /// Names of the packages marked `Essential: yes` or `Priority: required`.
    func baseSystem(architecture: String) -> Set<String> {
        var names = Set<String>()
        for (name, versions) in entries
        where versions.contains(where: {
            ($0.essential || $0.required) && ($0.architecture == architecture || $0.architecture == "all")
        }) {
            names.insert(name)
        }
        return names
    }

    /// The artifact apt printed, with the SHA-256, size and path its list gives.
    func artifact(for printed: PrintedURI) throws -> ResolvedDeb {
        let candidates = (entries[printed.name] ?? []).filter { $0.version == printed.version }
        // Two sources may list one version (a mirror and a snapshot, say); the one whose
        // path ends apt's URI is the one apt would download.
        let ranked = candidates.sorted { rank($0, printed) > rank($1, printed) }
        guard let entry = ranked.first else {
            throw ArtifactsError.notInIndex(
                package: printed.name, version: printed.version, architecture: printed.architecture)
        }
        guard let hex = entry.sha256, let digest = try? Digest(parsing: "sha256:\(hex)") else {
            throw ArtifactsError.missingChecksum(package: printed.name, version: printed.version)
        }
        let fileName = entry.poolPath.split(separator: "/").last.map(String.init) ?? entry.poolPath
        return ResolvedDeb(
            name: printed.name, version: entry.version,
            architecture: entry.architecture.isEmpty ? printed.architecture : entry.architecture,
            fileName: fileName, poolPath: entry.poolPath, size: entry.size ?? printed.size, sha256: digest)
    }

    private func rank(_ entry: Entry, _ printed: PrintedURI) -> Int {
        (printed.uri.hasSuffix("/" + entry.poolPath) ? 2 : 0) + (entry.architecture == printed.architecture ? 1 : 0)
    }
}
