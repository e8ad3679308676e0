import Foundation
import OCI
import SystemSupport

/// A scratch directory, removed when dropped.
public final class ScratchDirectory {
    /// Its path.
    public let path: String

    /// A new, empty directory under the system's temporary directory.
    public init(_ name: String = "imagegen-test") throws {
        path = NSTemporaryDirectory() + "/\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/relative`.
    public func callAsFunction(_ relative: String) -> String { "\(path)/\(relative)" }
}

/// What a process printed and how it ended.
public struct ProcessResult: Sendable {
    /// The exit status.
    public var status: Int32
    /// Standard output.
    public var stdout: String
    /// Standard error.
    public var stderr: String
}

/// Runs a program (looked up on PATH) to completion, or kills it (SIGKILL) after `timeout`
/// seconds, so that a program that hangs fails its test instead of stalling the whole run.
/// Its status is the shell's number (128 + N for a signal); a program that is not on PATH is 127.
@discardableResult
public func run(
    _ program: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
    timeout: Int = 1200
) throws -> ProcessResult {
    let merged = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }
    let command = Subprocess(program, arguments, environment: merged, directory: directory, timeout: .seconds(timeout))
    let result = Result { () throws(SubprocessError) -> ProcessOutput in try command.run() }
    switch result {
    case .success(let output):
        return ProcessResult(status: output.status.code, stdout: output.stdoutText, stderr: output.stderrText)
    case .failure(.notFound):
        return ProcessResult(status: 127, stdout: "", stderr: "\(program): not found on PATH\n")
    case .failure(.timedOut):
        return ProcessResult(status: 137, stdout: "", stderr: "[killed after \(timeout) s: \(command)]\n")
    case .failure(let error):
        throw error
    }
}

/// The host's `python3` itself (`sys.executable`), not a wrapper on `PATH`: a pyenv shim
/// re-hashes after every `pip install` and exits 1 when another test's rehash holds its lock.
public let hostPython3: String = {
    let asked = Subprocess("python3", ["-c", "import sys; sys.stdout.write(sys.executable)"])
    guard let output = try? asked.run(), output.status == .exited(0), output.stdoutText.hasPrefix("/") else { return "python3" }
    return output.stdoutText
}()

/// The package's root directory.
public let packageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The `imagegen` executable that `swift build` made: the one beside the running test binary
/// (so that `--scratch-path` builds test their own), else the default build directory's.
public var imagegenBinary: String {
    let beside = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("imagegen").path
    let defaults = ["\(packageRoot)/.build/debug/imagegen", "\(packageRoot)/.build/release/imagegen"]
    let candidates = [beside].compactMap { $0 } + defaults
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? defaults[0]
}

/// Writes a file, creating parents, with an explicit mode.
public func writeFile(_ path: String, _ contents: String, mode: Int = 0o644) throws {
    try writeFile(path, Array(contents.utf8), mode: mode)
}

/// Writes a file, creating parents, with an explicit mode.
public func writeFile(_ path: String, _ contents: [UInt8], mode: Int = 0o644) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(contents).write(to: url)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
}

/// A small tree that exercises every entry kind imagegen writes: nested directories, modes
/// with setuid/setgid/sticky, an empty file, symlinks (one with a target over 100 bytes), a
/// hard link, names over 100 and over 256 bytes, and non-ASCII names. Creation order can be
/// reversed to show that it does not matter.
public func makeFixtureTree(at root: String, reversed: Bool = false) throws {
    let fm = FileManager.default
    let longDir = String(repeating: "d", count: 120)
    let longFile = String(repeating: "f", count: 150)
    let veryLong = (0..<3).map { _ in String(repeating: "v", count: 90) }.joined(separator: "/")
    var steps: [() throws -> Void] = [
        { try writeFile("\(root)/etc/hostname", "imagegen\n") },
        { try writeFile("\(root)/usr/bin/tool", "#!/bin/sh\necho tool\n", mode: 0o4755) },
        { try writeFile("\(root)/usr/bin/group-tool", "#!/bin/sh\n", mode: 0o2755) },
        { try writeFile("\(root)/usr/share/empty", "") },
        { try writeFile("\(root)/usr/share/data.bin", (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }) },
        { try writeFile("\(root)/\(longDir)/\(longFile)", "long name\n") },
        { try writeFile("\(root)/\(veryLong)/file", "very long name\n") },
        { try writeFile("\(root)/usr/share/naïve-ünïcode.txt", "utf-8\n") },
        { try fm.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true) },
        { try fm.createDirectory(atPath: "\(root)/var/empty", withIntermediateDirectories: true) },
    ]
    let links: [() throws -> Void] = [
        { try fm.createSymbolicLink(atPath: "\(root)/usr/bin/tool-link", withDestinationPath: "tool") },
        { try fm.createSymbolicLink(atPath: "\(root)/etc/long-link", withDestinationPath: "/" + String(repeating: "t", count: 130)) },
        { try fm.linkItem(atPath: "\(root)/usr/share/data.bin", toPath: "\(root)/usr/share/data-hardlink.bin") },
        { try fm.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: "\(root)/tmp") },
    ]
    if reversed { steps.reverse() }
    for step in steps + links { try step() }
    // Directories get fixed modes whatever the umask was.
    for dir in ["etc", "usr", "usr/bin", "usr/share", "var", "var/empty", longDir, "vvv"] where fm.fileExists(atPath: "\(root)/\(dir)") {
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(root)/\(dir)")
    }
    var path = root
    for part in veryLong.split(separator: "/") {
        path += "/\(part)"
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }
}
