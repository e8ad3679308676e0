import Foundation
import Glibc

/// A folder of its own under `$TMPDIR` (or `/tmp`) for one piece of work, made with mode 0700
/// by `mkdtemp` (so no other user can plant files in it) and removed with everything in it.
public struct ScratchDirectory: Sendable {
    /// The folder's absolute path, without a trailing `/`.
    public let path: String

    /// Makes `TMPDIR/imagegen-PURPOSE-XXXXXX`.
    public init(purpose: String) throws(SystemError) {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base.hasSuffix("/") ? String(base.dropLast()) : base)/imagegen-\(purpose)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw .call("mkdtemp", path: "\(base)/imagegen-\(purpose)-XXXXXX", errno: errno) }
        path = String(cString: made)
    }

    /// `path/name`.
    public func appending(_ name: String) -> String { "\(path)/\(name)" }

    /// Removes the folder and everything in it; a failure is ignored (it is scratch).
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Runs `body` with a new scratch folder and removes the folder afterwards, however `body` ends.
    public static func with<R>(purpose: String, _ body: (ScratchDirectory) throws -> R) throws -> R {
        let scratch = try ScratchDirectory(purpose: purpose)
        defer { scratch.remove() }
        return try body(scratch)
    }

    /// `with` for async work.
    public static func with<R>(purpose: String, _ body: (ScratchDirectory) async throws -> R) async throws -> R {
        let scratch = try ScratchDirectory(purpose: purpose)
        defer { scratch.remove() }
        return try await body(scratch)
    }
}

/// A Linux system call that failed.
public enum SystemError: Error, Hashable, CustomStringConvertible {
    /// `call` on `path` set `errno`.
    case call(String, path: String, errno: Int32)
    /// The calls on `path` succeeded, but it is not what it should be.
    case unexpected(path: String, reason: String)

    public var description: String {
        switch self {
        case .call(let call, let path, let errno): "\(call) \(path): \(String(cString: strerror(errno)))"
        case .unexpected(let path, let reason): "\(path): \(reason)"
        }
    }
}
