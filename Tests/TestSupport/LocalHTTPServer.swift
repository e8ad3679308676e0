import Foundation
import Glibc

/// `python3 -m http.server` serving a directory on 127.0.0.1, on a port the kernel picks,
/// as a child process of the test. Stopped by `stop()` or when dropped.
public final class LocalHTTPServer {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    public let baseURL: String
    private let process: Process

    /// Starts the server and waits (at most `timeout` seconds) until it says which port it took.
    public init(serving directory: String, timeout: TimeInterval = 20) throws {
        // -u: unbuffered, so the "Serving HTTP on … port N" line arrives while it runs.
        (process, baseURL) = try Self.launch(
            ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "0"], name: "http.server", timeout: timeout)
    }

    /// Runs a Python server (`arguments` after `/usr/bin/env`) that prints `port N` once it
    /// listens on 127.0.0.1, and waits at most `timeout` seconds for that line. Its standard
    /// error is dropped (one log line per request).
    static func launch(_ arguments: [String], name: String, timeout: TimeInterval) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()

        let reader = out.fileHandleForReading
        let deadline = Date().addingTimeInterval(timeout)
        var text = ""
        var port: Int? = nil
        while port == nil {
            guard Date() < deadline, process.isRunning else {
                kill(process)
                throw ServerError(message: "\(name) did not report its port; it printed: \(text)")
            }
            // A bounded wait for the next chunk: poll(2) on the pipe, 200 ms at a time.
            var pfd = pollfd(fd: reader.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 200) > 0 else { continue }
            let chunk = reader.availableData
            if chunk.isEmpty { continue }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"port (\d+)"#, options: .regularExpression) {
                port = Int(text[range].dropFirst(5))
            }
        }
        return (process, "http://127.0.0.1:\(port!)")
    }

    /// Stops the server and waits (a bounded while) for it to exit.
    ///
    /// SIGKILL, not `terminate()`: Foundation's `Process` on Linux starts children with the
    /// signal mask of the spawning thread, and threads of the dispatch pool block SIGTERM and
    /// SIGINT, so the server would never see them. `waitUntilExit()` is avoided too: off the
    /// main thread it spins a run loop at full CPU.
    public func stop() { Self.kill(process) }

    static func kill(_ process: Process) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
    }

    deinit { stop() }

    /// The server did not start.
    public struct ServerError: Error, CustomStringConvertible {
        /// Why, with what it printed.
        public var message: String
        public var description: String { message }
    }
}
