import Foundation
import OCI
import Synchronization
import SystemSupport

/// Resolves Python requirements to exact wheels by asking pip, never a solver of our own
/// (DESIGN.md, decision 4).
///
/// pip resolves for the target interpreter and platform, not the host's:
/// `pip install --dry-run --report` with `--platform`, `--python-version`, `--implementation`
/// and `--only-binary=:all:` into an empty `--target`, so nothing installed on the host counts
/// and nothing is installed. The report gives each wheel's name, version, `Requires-Dist`,
/// URL and SHA-256; the size comes from an HTTP `HEAD` on the URL. The URL is used for that
/// and dropped: only file names, sizes and hashes leave this type (DESIGN.md, decision 5).
public struct PipResolver: Sendable {
    /// The target interpreter's version, `major.minor` (`3.11`).
    public var pythonVersion: String
    /// The target interpreter's implementation tag (`cp`).
    public var implementation: String
    /// The platform tags pip may accept, exactly as given (see `manylinuxPlatforms`).
    public var platforms: [String]
    /// The index to use instead of pip's configured one, or `nil` for pip's own.
    public var indexURL: String?
    /// Indexes to use besides the main one.
    public var extraIndexURLs: [String]
    /// How to run pip (`python3 -m pip`); pip 22.2 or later, which writes `--report`.
    public var pipCommand: [String]
    /// Whether pip reads the host's configuration (`pip.conf`, `PIP_*` variables: an index,
    /// `find-links`, certificates, proxies). When `false`, pip runs isolated and sees only
    /// what this resolver passes.
    public var usesHostConfiguration: Bool

    /// A resolver for the given target interpreter and platforms.
    public init(
        pythonVersion: String, platforms: [String], implementation: String = "cp", indexURL: String? = nil,
        extraIndexURLs: [String] = [], pipCommand: [String] = ["python3", "-m", "pip"],
        usesHostConfiguration: Bool = true
    ) {
        self.pythonVersion = pythonVersion
        self.implementation = implementation
        self.platforms = platforms
        self.indexURL = indexURL
        self.extraIndexURLs = extraIndexURLs
        self.pipCommand = pipCommand
        self.usesHostConfiguration = usesHostConfiguration
    }

    /// The platform tags a system with glibc `2.<glibcMinor>` runs, newest first:
    /// `manylinux_2_<glibcMinor>_<arch>` down to `manylinux_2_5_<arch>` (PEP 600), then the
    /// legacy aliases `manylinux2014`, `manylinux2010`, `manylinux1` (PEP 599, 571, 513) and
    /// `linux_<arch>`.
    ///
    /// pip takes `--platform` tags literally, with no ladder of its own, so all are needed:
    /// NVIDIA's wheels say `manylinux2014`, torch's `manylinux_2_28`. Debian bookworm has glibc
    /// 2.36.
    public static func manylinuxPlatforms(glibcMinor: Int = 36, architecture: String = "x86_64") -> [String] {
        let modern = stride(from: glibcMinor, through: 5, by: -1).map { "manylinux_2_\($0)_\(architecture)" }
        return modern + ["manylinux2014", "manylinux2010", "manylinux1", "linux"].map { "\($0)_\(architecture)" }
    }

    /// The exact wheels of `requirements` (PEP 508 strings: `torch==2.7.0`, `jupyterlab`) and
    /// everything they depend on, sorted by normalised name.
    public func resolve(_ requirements: [String]) async throws -> [ResolvedWheel] {
        for requirement in requirements {
            let trimmed = requirement.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("-"), !requirement.contains(where: \.isNewline) else {
                throw ArtifactsError.invalidRequest(
                    value: requirement, reason: "a requirement is one PEP 508 line, not empty and not an option")
            }
        }
        guard !requirements.isEmpty else { return [] }

        let fm = FileManager.default
        let work = NSTemporaryDirectory() + "/imagegen-pip-\(UUID().uuidString)"
        do {
            try fm.createDirectory(atPath: "\(work)/target", withIntermediateDirectories: true)
        } catch {
            throw ArtifactsError.io(path: work, reason: error.localizedDescription)
        }
        defer { try? fm.removeItem(atPath: work) }

        let report = "\(work)/report.json"
        let output = try await runPip(arguments(report: report, target: "\(work)/target") + requirements)
        guard output.status == .exited(0) else {
            throw ArtifactsError.pipFailed(message: Self.errorMessage(output))
        }
        guard let data = fm.contents(atPath: report) else {
            throw ArtifactsError.unexpectedOutput(tool: "pip", reason: "it wrote no --report file")
        }
        let chosen = try Self.parseReport(data)
        let sizes = try await WheelSizes.fetch(chosen.map { ($0.fileName, $0.url) })
        let wheels = try chosen.map { wheel in
            guard let size = sizes[wheel.fileName] else {
                throw ArtifactsError.sizeUnavailable(fileName: wheel.fileName, reason: "no answer")
            }
            return ResolvedWheel(
                name: wheel.name, version: wheel.version, fileName: wheel.fileName, size: size,
                sha256: wheel.sha256, requiresDist: wheel.requiresDist)
        }
        return wheels.sorted { ($0.normalizedName, $0.version) < ($1.normalizedName, $1.version) }
    }

    /// pip's options, before the requirements.
    func arguments(report: String, target: String) -> [String] {
        [
            // Not `--quiet`: it would also drop the "conflict is caused by" lines of a failure.
            "install", "--dry-run", "--ignore-installed", "--no-input", "--disable-pip-version-check",
            "--progress-bar", "off",
            "--report", report,
            "--only-binary=:all:", "--target", target,
        ] + targetAndSourceArguments
    }

    /// The target interpreter and platform options, then the index options (`--isolated` when
    /// the host's configuration does not count): what every pip run for this target passes.
    var targetAndSourceArguments: [String] {
        var args = ["--python-version", pythonVersion, "--implementation", implementation]
        for platform in platforms { args += ["--platform", platform] }
        if !usesHostConfiguration { args.append("--isolated") }
        if let indexURL { args += ["--index-url", indexURL] }
        for extra in extraIndexURLs { args += ["--extra-index-url", extra] }
        return args
    }

    /// pip's environment: this process's, but with `usesHostConfiguration` off no `PIP_*`
    /// variable and no pip.conf reach pip.
    var toolEnvironment: [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        guard !usesHostConfiguration else { return inherited }
        // `--isolated` alone still reads the global and site pip.conf files.
        return inherited.filter { !$0.key.hasPrefix("PIP_") }.merging(["PIP_CONFIG_FILE": "/dev/null"]) { $1 }
    }

    /// Runs `pipCommand` with these arguments (and `environment` over the tool environment) to
    /// its end; a pip that cannot be started is a `pipFailed` that says why.
    func runPip(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessOutput {
        guard let program = pipCommand.first, !program.isEmpty else {
            throw ArtifactsError.invalidRequest(value: pipCommand.joined(separator: " "), reason: "a command names a program")
        }
        do {
            let merged = toolEnvironment.merging(environment) { $1 }
            let started = await Self.interpreter(for: pipCommand, environment: merged) ?? program
            return try await Subprocess(started, Array(pipCommand.dropFirst()) + arguments, environment: merged).run()
        } catch let error as SubprocessError {
            throw ArtifactsError.pipFailed(message: error.description)
        }
    }

    /// The interpreter itself for a command that names one bare and runs a module
    /// (`python3 -m pip`): its `sys.executable`, asked once per process; `nil` for any other
    /// command, or when the interpreter does not answer (then the command runs as given).
    ///
    /// A wrapper on `PATH` may stand for the interpreter: a pyenv shim runs `pyenv rehash` after
    /// every `pip install`, a `--dry-run` too, and exits 1 when another rehash holds its lock,
    /// so two resolves at once could fail one whose pip had finished.
    static func interpreter(for command: [String], environment: [String: String]) async -> String? {
        guard command.count >= 2, command[1] == "-m", let name = command.first, !name.isEmpty, !name.contains("/") else {
            return nil
        }
        let key = "\(name) on \(environment["PATH"] ?? "")"
        if let known = resolvedInterpreters.withLock({ $0[key] }) { return known }
        let asked = Subprocess(name, ["-c", "import sys; sys.stdout.write(sys.executable)"], environment: environment)
        guard let output = try? await asked.run(), output.status == .exited(0),
              let path = String(validating: output.stdout, as: UTF8.self), path.hasPrefix("/"),
              FileManager.default.isExecutableFile(atPath: path)
        else { return nil }
        resolvedInterpreters.withLock { $0[key] = path }
        return path
    }

    /// `interpreter(for:environment:)`'s answers, by the name asked and the `PATH` it was looked up on.
    private static let resolvedInterpreters = Mutex<[String: String]>([:])

    // MARK: - The report

    /// One wheel of the report, URL still attached.
    struct Chosen {
        var name: String
        var version: String
        var fileName: String
        var url: URL
        var sha256: Digest
        var requiresDist: [String]
    }

    /// Reads pip's installation report (pip's "Installation Report" format, version 1).
    static func parseReport(_ data: Data) throws -> [Chosen] {
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: data)
        } catch {
            throw ArtifactsError.unexpectedOutput(tool: "pip --report", reason: "\(error)")
        }
        return try report.install.map { item in
            let name = item.metadata.name
            let version = item.metadata.version
            guard let url = URL(string: item.download_info.url),
                  let last = url.path.split(separator: "/").last.map({ String($0).percentDecoded }),
                  last.hasSuffix(".whl")
            else {
                throw ArtifactsError.unexpectedOutput(
                    tool: "pip --report", reason: "\(name) \(version) does not come from a wheel file")
            }
            guard let archive = item.download_info.archive_info else {
                throw ArtifactsError.unexpectedOutput(
                    tool: "pip --report", reason: "\(name) \(version) is not an archive (a directory or VCS checkout)")
            }
            // `hashes` since pip 23.0; `hash` ("sha256=…") before and beside it.
            var hex = archive.hashes?["sha256"]
            if hex == nil, let hash = archive.hash, hash.hasPrefix("sha256=") { hex = String(hash.dropFirst(7)) }
            guard let hex, let digest = try? Digest(parsing: "sha256:\(hex.lowercased())") else {
                throw ArtifactsError.missingChecksum(package: name, version: version)
            }
            return Chosen(
                name: name, version: version, fileName: last, url: url, sha256: digest,
                requiresDist: item.metadata.requires_dist ?? [])
        }
    }

    // The report's JSON, as pip names it (https://pip.pypa.io/en/stable/reference/installation-report/).
    // swiftlint:disable identifier_name
    struct Report: Decodable {
        var install: [Item]
    }

    struct Item: Decodable {
        var download_info: DownloadInfo
        var metadata: Metadata
    }

    struct DownloadInfo: Decodable {
        var url: String
        var archive_info: ArchiveInfo?
    }

    struct ArchiveInfo: Decodable {
        var hash: String?
        var hashes: [String: String]?
    }

    struct Metadata: Decodable {
        var name: String
        var version: String
        var requires_dist: [String]?
    }
    // swiftlint:enable identifier_name

    /// pip's own explanation of a failure: its `ERROR:` lines (stderr) and the conflict it
    /// describes (stdout); the last line it printed when it printed neither.
    static func errorMessage(_ output: ProcessOutput) -> String {
        var lines: [String] = []
        for line in output.stderrText.split(whereSeparator: \.isNewline) where line.hasPrefix("ERROR: ") {
            let text = line.dropFirst(7).trimmingCharacters(in: .whitespaces)
            // "ResolutionImpossible: for help visit <pip's docs>" adds nothing to the lines above.
            if !text.hasPrefix("ResolutionImpossible") { lines.append(text) }
        }
        var inConflict = false
        for line in output.stdoutText.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("The conflict is caused by") {
                inConflict = true
                lines.append(text)
            } else if inConflict && line.first?.isWhitespace == true && !text.isEmpty {
                lines.append(text)
            } else {
                inConflict = false
            }
        }
        if lines.isEmpty {
            // No error line of pip's own: how it ended, and its last word — stderr's (a
            // traceback ends with the exception) before stdout's.
            func last(_ text: String) -> String? {
                text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
            }
            lines = ["\(output.status)" + ((last(output.stderrText) ?? last(output.stdoutText)).map { ": \($0)" } ?? "")]
        }
        return lines.joined(separator: "; ")
    }
}

extension String {
    /// `%XX` escapes decoded; an invalid escape is kept as it is.
    var percentDecoded: String { removingPercentEncoding ?? self }
}
