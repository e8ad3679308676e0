import Foundation

/// Errors raised while resolving artifacts through apt and pip.
public enum ArtifactsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A package request or requirement does not follow its grammar.
    case invalidRequest(value: String, reason: String)
    /// apt failed; `message` holds apt's own error lines (`E: Unable to locate package foo`).
    case aptFailed(command: String, message: String)
    /// pip failed; `message` holds pip's own error lines (`No matching distribution found for …`).
    case pipFailed(message: String)
    /// A resolved artifact has no SHA-256 in its index, so it cannot be locked.
    case missingChecksum(package: String, version: String)
    /// apt chose a package version that the private state's `Packages` lists do not describe.
    case notInIndex(package: String, version: String, architecture: String)
    /// A tool printed something that does not have the expected shape.
    case unexpectedOutput(tool: String, reason: String)
    /// The size of a wheel could not be learnt from its server.
    case sizeUnavailable(fileName: String, reason: String)
    /// A file system call failed on a path.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidRequest(let value, let reason):
            return "invalid request '\(value)': \(reason)"
        case .aptFailed(let command, let message):
            return "\(command) failed: \(Self.oneLine(message))"
        case .pipFailed(let message):
            return "pip failed: \(Self.oneLine(message))"
        case .missingChecksum(let package, let version):
            return "\(package) \(version) has no SHA-256 in its index, so it cannot be locked"
        case .notInIndex(let package, let version, let architecture):
            return "apt chose \(package) \(version) (\(architecture)), but no Packages list of the private state describes it"
        case .unexpectedOutput(let tool, let reason):
            return "unexpected output from \(tool): \(Self.oneLine(reason))"
        case .sizeUnavailable(let fileName, let reason):
            return "cannot learn the size of \(fileName): \(Self.oneLine(reason))"
        case .io(let path, let reason):
            return "\(path): \(Self.oneLine(reason))"
        }
    }

    /// Folds a tool's multi-line message into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}
