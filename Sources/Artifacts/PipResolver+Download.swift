import Foundation
import ImageModel
import OCI
import SystemSupport

extension PipResolver {
    /// Downloads the exact wheels of `wheels` into `directory` with
    /// `pip download --no-deps --only-binary=:all: --require-hashes`, for this resolver's target
    /// interpreter and platforms and through its index options; returns each wheel with the
    /// file pip wrote (matched by file name).
    ///
    /// Each requirement is `name==version --hash=sha256:…` with the lock's hash, so pip itself
    /// refuses a file whose bytes differ and, where an index lists several files of one
    /// version, picks the one the lock names. pip writes nothing when it refuses one.
    /// - Parameter scratch: a directory for the requirements file.
    func download(_ wheels: [LockedWheel], into directory: String, scratch: String) async throws -> [(wheel: LockedWheel, file: String)] {
        guard !wheels.isEmpty else { return [] }
        var lines: [String] = []
        for wheel in wheels {
            // A lock file is user input: a name or version must not smuggle an option into the
            // requirements file.
            guard Self.isRequirementToken(wheel.name), Self.isRequirementToken(wheel.version) else {
                throw ArtifactsError.invalidRequest(
                    value: "\(wheel.name)==\(wheel.version)",
                    reason: "a locked wheel's name and version hold only letters, digits and . _ - + !")
            }
            lines.append("\(wheel.name)==\(wheel.version) --hash=\(wheel.sha256.algorithm.rawValue):\(wheel.sha256.encoded)")
        }
        let requirements = "\(scratch)/requirements.txt"
        do {
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: requirements))
        } catch {
            throw ArtifactsError.io(path: requirements, reason: error.localizedDescription)
        }

        // pip downloads into a temporary directory before it copies into `directory`: below
        // `scratch` it is on the cache's file system, and the fetcher sees its bytes arrive.
        let temporary = "\(scratch)/tmp"
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw ArtifactsError.io(path: temporary, reason: error.localizedDescription)
        }
        let output = try await runPip([
            "download", "--no-deps", "--only-binary=:all:", "--require-hashes", "--no-input",
            "--disable-pip-version-check", "--progress-bar", "off",
            // The artifact cache keeps the wheels; pip's own cache would hold every GB twice.
            "--no-cache-dir",
            "-r", requirements, "-d", directory,
        ] + targetAndSourceArguments, environment: ["TMPDIR": temporary])
        guard output.status == .exited(0) else {
            throw ArtifactsError.pipFailed(message: Self.downloadErrorMessage(output))
        }

        // pip names a file by its URL's last component, `%XX` escapes decoded.
        var written: [String: String] = [:]
        do {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                written[name.percentDecoded] = "\(directory)/\(name)"
            }
        } catch {
            throw ArtifactsError.io(path: directory, reason: error.localizedDescription)
        }
        return try wheels.map { wheel in
            guard let file = written[wheel.fileName] else {
                let got = written.isEmpty ? "nothing" : written.keys.sorted().joined(separator: ", ")
                throw ArtifactsError.unexpectedOutput(
                    tool: "pip download", reason: "it wrote no \(wheel.fileName) for \(wheel.name)==\(wheel.version) (it wrote: \(got))")
            }
            return (wheel, file)
        }
    }

    /// pip's explanation of a failed download. A hash mismatch becomes one line per wheel,
    /// `NAME==VERSION (FILE): expected sha256 …, got …`; anything else is pip's `ERROR:` lines.
    static func downloadErrorMessage(_ output: ProcessOutput) -> String {
        let lines = output.stderrText.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.firstIndex(where: { $0.contains("DO NOT MATCH THE HASHES") }) else {
            return errorMessage(output)
        }
        // pip 23 to 26 print, after the header:
        //     NAME==VERSION from URL#sha256=… (from -r FILE (line N)):
        //         Expected sha256 EXPECTED
        //              Got        ACTUAL
        var wheels: [String] = []
        var current: String? = nil
        var expected: String? = nil
        func flush(got: String?) {
            guard let current else { return }
            wheels.append("\(current): expected \(expected ?? "?"), got \(got ?? "?")")
        }
        for line in lines[(header + 1)...] {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("Expected ") {
                expected = String(text.dropFirst(9)).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            } else if text.hasPrefix("Got ") {
                flush(got: text.dropFirst(4).trimmingCharacters(in: .whitespaces))
                current = nil
                expected = nil
            } else if let from = text.range(of: " from ") {
                let requirement = text[..<from.lowerBound]
                let url = text[from.upperBound...].prefix { !$0.isWhitespace && $0 != "#" }
                let file = url.split(separator: "/").last.map { String($0).percentDecoded }
                current = file.map { "\(requirement) (\($0))" } ?? String(requirement)
            }
        }
        guard !wheels.isEmpty else { return errorMessage(output) }
        return "the index's files do not match the lock's hashes, so nothing was cached: " + wheels.joined(separator: "; ")
    }

    private static func isRequirementToken(_ value: String) -> Bool {
        !value.isEmpty && value.first != "-" && value.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || "._-+!".utf8.contains($0)
        }
    }
}
