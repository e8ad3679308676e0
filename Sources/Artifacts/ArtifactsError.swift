import Foundation
import OCI

/// Errors raised while resolving, fetching and caching artifacts through apt and pip.
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
    /// A file's bytes are not the ones the lock names: its SHA-256 (or size) differs. The file
    /// was not cached.
    case digestMismatch(file: String, expected: Digest, actual: Digest, expectedSize: Int64, actualSize: Int64)
    /// Locked Debian packages (`NAME VERSION (ARCH)`) that the apt sources no longer offer;
    /// `image` is the lock's image name when known; `mirror` the artifact mirror that was asked
    /// first and did not hold them either, if any.
    case noLongerOffered(packages: [String], image: String?, mirror: String? = nil)
    /// Offline, and artifacts (file names, the first few) are missing from the cache.
    case missingFromCache(count: Int, fileNames: [String])
    /// A package index page or metadata file could not be read (unreachable, HTTP error).
    case indexUnavailable(url: String, reason: String)
    /// A package index page or metadata file was read but is not what the index format says.
    case malformedIndexData(url: String, reason: String)

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
        case .digestMismatch(let file, let expected, let actual, let expectedSize, let actualSize):
            let sizes = expectedSize == actualSize ? "" : " (\(actualSize) bytes, not \(expectedSize))"
            return "\(file) does not match the lock: expected \(expected), got \(actual)\(sizes); it was not cached"
        case .noLongerOffered(let packages, let image, let mirror):
            let name = image ?? "NAME"
            let list = packages.count == 1 ? packages[0] : "\(packages.count) locked packages (\(packages.joined(separator: ", ")))"
            let them = packages.count == 1 ? "it" : "them"
            let fromMirror = mirror.map { "the artifact mirror \($0) (--artifacts-from) does not hold \(them) either: " }
                ?? "fetch \(them) from an artifact mirror with --artifacts-from REG/REPO (one that `imagegen mirror \(name) --to REG/REPO` filled while \(them == "it" ? "it was" : "they were") offered), "
            return "the apt sources no longer offer \(list) (mirrors drop superseded versions): " + fromMirror
                + "run `imagegen lock \(name)` again (or `imagegen update \(name)`) to lock what they offer now, "
                + "or point --apt-sources at a snapshot archive that still has \(them)"
        case .indexUnavailable(let url, let reason):
            return "cannot read \(url): \(Self.oneLine(reason))"
        case .malformedIndexData(let url, let reason):
            return "\(url) is not a valid package index answer: \(Self.oneLine(reason))"
        case .missingFromCache(let count, let fileNames):
            let more = count > fileNames.count ? ", and \(count - fileNames.count) more" : ""
            let what = count == 1 ? "1 artifact is" : "\(count) artifacts are"
            return "offline, but \(what) not in the cache (\(fileNames.joined(separator: ", "))\(more)); "
                + "run without --offline to fetch \(count == 1 ? "it" : "them")"
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
