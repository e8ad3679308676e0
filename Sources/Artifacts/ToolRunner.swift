import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a tool printed and how it ended.
struct ToolOutput: Sendable {
    /// The exit status (127 when the program was not found).
    var status: Int32
    /// Standard output.
    var stdout: String
    /// Standard error.
    var stderr: String
}

/// Runs external tools (apt-get, pip) to completion without blocking a thread of the
/// cooperative pool.
enum ToolRunner {
    /// Runs `command[0]` (looked up on `PATH`) with the rest as arguments.
    ///
    /// Output goes to files in `scratch`, not pipes: apt and pip can print more than a pipe
    /// holds, and a file needs no reader running beside the process.
    /// - Parameters:
    ///   - environment: variables to set (a `nil` value removes one); the rest are inherited.
    ///   - removing: a predicate on inherited variable names to drop.
    ///   - directory: the working directory (`apt-get download` writes there); the caller's
    ///     when `nil`.
    static func run(
        _ command: [String], environment: [String: String?] = [:],
        removing: (@Sendable (String) -> Bool)? = nil, scratch: String, directory: String? = nil
    ) async throws -> ToolOutput {
        guard let program = command.first, !program.isEmpty else {
            throw ArtifactsError.invalidRequest(value: command.joined(separator: " "), reason: "a command names a program")
        }
        let fm = FileManager.default
        let id = UUID().uuidString
        let outPath = "\(scratch)/\(id).out"
        let errPath = "\(scratch)/\(id).err"
        defer {
            try? fm.removeItem(atPath: outPath)
            try? fm.removeItem(atPath: errPath)
        }
        guard fm.createFile(atPath: outPath, contents: nil), fm.createFile(atPath: errPath, contents: nil),
              let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath)
        else { throw ArtifactsError.io(path: scratch, reason: "cannot create output files for \(program)") }
        defer {
            try? out.close()
            try? err.close()
        }

        var env = ProcessInfo.processInfo.environment
        if let removing { env = env.filter { !removing($0.key) } }
        for (key, value) in environment { env[key] = value }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err

        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    continuation.resume(
                        throwing: ArtifactsError.io(path: program, reason: "cannot start: \(error.localizedDescription)"))
                }
            }
        } onCancel: {
            // SIGKILL: Foundation on Linux starts children with the spawning thread's signal
            // mask, and dispatch threads block SIGTERM, so `terminate()` would not reach them.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return ToolOutput(status: status, stdout: stdout, stderr: stderr)
    }
}

extension String {
    /// `%XX` escapes decoded; an invalid escape is kept as it is.
    var percentDecoded: String { removingPercentEncoding ?? self }
}
