internal import CSpawn
import Foundation
import Glibc
import Synchronization

/// A program to run: what, with which arguments, environment and working directory.
///
/// The one way imagegen starts another program. It is built on `posix_spawn` rather than
/// Foundation's `Process`, which on Linux starts children with the spawning thread's signal mask
/// (dispatch threads block SIGTERM, so a child could not be stopped) and leaves the reading of
/// its pipes to the caller (reading stdout, then stderr, deadlocks on a child that fills the
/// stderr pipe first). Here every child starts with an empty signal mask and default handlers,
/// and `run()` reads stdout and stderr at once.
public struct Subprocess: Sendable, CustomStringConvertible {
    /// A path, or a name looked up on the `PATH` of `environment`.
    public var program: String
    /// The arguments after the program's name.
    public var arguments: [String]
    /// The child's whole environment (this process's unless set).
    public var environment: [String: String]
    /// The working directory; this process's when nil.
    public var directory: String?
    /// What the child reads on stdin when run with `run()`.
    public var input: Input
    /// How long `run()` lets the child run before it kills it (SIGKILL) and throws `timedOut`.
    public var timeout: Duration?

    /// What a child started by `run()` reads.
    public enum Input: Sendable {
        /// `/dev/null`.
        case none
        /// These bytes, then the end of input. Sent through a socket, so a child that exits
        /// without reading them does not kill imagegen with SIGPIPE.
        case bytes([UInt8])
    }

    public init(
        _ program: String, _ arguments: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String? = nil, input: Input = .none, timeout: Duration? = nil
    ) {
        self.program = program
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
        self.input = input
        self.timeout = timeout
    }

    /// The command line as a shell would show it (arguments with spaces quoted), for messages.
    public var description: String {
        ([program] + arguments).map { $0.isEmpty || $0.contains(where: \.isWhitespace) ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// The program's path: `program` itself when it names a folder, else the first executable
    /// of that name on the environment's `PATH`.
    public func executablePath() throws(SubprocessError) -> String {
        if program.contains("/") { return program }
        let searchPath = environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        throw .notFound(program: program, searched: searchPath)
    }

    // MARK: Running to the end

    /// Runs the program to its end and returns its status and everything it printed, stdout and
    /// stderr read at once. Blocks the calling thread; from async code use the async `run()`.
    public func run() throws(SubprocessError) -> ProcessOutput {
        try run(started: { _ in })
    }

    /// Runs the program to its end on a thread outside the cooperative pool. Cancelling the task
    /// kills the child (SIGKILL) and throws `CancellationError`.
    public func run() async throws -> ProcessOutput {
        let child = Mutex<(pid: pid_t, cancelled: Bool)>((0, false))
        let output = try await withTaskCancellationHandler {
            try await Parallel.offPool {
                try self.run(started: { pid in
                    let cancelled = child.withLock { state in
                        state.pid = pid
                        return state.cancelled
                    }
                    if cancelled { kill(pid, SIGKILL) }
                })
            }
        } onCancel: {
            child.withLock { state in
                state.cancelled = true
                if state.pid > 0 { kill(state.pid, SIGKILL) }
            }
        }
        try Task.checkCancellation()
        return output
    }

    /// `run()` that calls `started` with the child's pid once it runs (before any output is read).
    private func run(started: (pid_t) -> Void) throws(SubprocessError) -> ProcessOutput {
        var stdout: [Int32] = [-1, -1], stderr: [Int32] = [-1, -1], stdin: [Int32] = [-1, -1]
        defer { for fd in stdout + stderr + stdin where fd >= 0 { close(fd) } }
        guard cspawn_pipe_cloexec(&stdout) == 0, cspawn_pipe_cloexec(&stderr) == 0 else { throw .system(call: "pipe2", errno: errno) }
        var bytes: [UInt8] = []
        if case .bytes(let given) = input {
            bytes = given
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &stdin) == 0 else {
                throw .system(call: "socketpair", errno: errno)
            }
        }
        let child = try spawn(
            stdin: stdin[1] >= 0 ? .descriptor(stdin[1]) : .null, stdout: .descriptor(stdout[1]), stderr: .descriptor(stderr[1]))
        started(child.pid)
        // Our copies of the child's ends: closed, so that its exit reads as the end of the pipes.
        close(stdout[1])
        close(stderr[1])
        if stdin[1] >= 0 { close(stdin[1]) }
        (stdout[1], stderr[1], stdin[1]) = (-1, -1, -1)
        if stdin[0] >= 0, bytes.isEmpty { shutdown(stdin[0], Int32(SHUT_WR)) }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var collected = Collected()
        var timedOut = false
        do {
            timedOut = try collect(stdout: stdout[0], stderr: stderr[0], stdin: bytes.isEmpty ? -1 : stdin[0], bytes: bytes, deadline: deadline, into: &collected) {
                kill(child.pid, SIGKILL)
            }
        } catch {
            kill(child.pid, SIGKILL)
            _ = try? child.wait()
            throw error
        }
        let status = try child.wait()
        if timedOut, let timeout { throw .timedOut(command: description, after: timeout) }
        return ProcessOutput(status: status, stdout: collected.stdout, stderr: collected.stderr)
    }

    private struct Collected {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }

    /// Reads both pipes (and feeds stdin) until both pipes end; true when the deadline passed
    /// first (then `expire` was called and the pipes were still read to their end).
    private func collect(
        stdout: Int32, stderr: Int32, stdin: Int32, bytes: [UInt8], deadline: ContinuousClock.Instant?, into collected: inout Collected,
        expire: () -> Void
    ) throws(SubprocessError) -> Bool {
        var open = [stdout: true, stderr: true]
        var sent = 0
        var inputOpen = stdin >= 0
        var expired = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.values.contains(true) {
            var fds: [pollfd] = []
            if open[stdout] == true { fds.append(pollfd(fd: stdout, events: Int16(POLLIN), revents: 0)) }
            if open[stderr] == true { fds.append(pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)) }
            if inputOpen { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            var wait: Int32 = -1
            if let deadline, !expired {
                let left = deadline - ContinuousClock.now
                let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                wait = Int32(clamping: max(0, milliseconds))
            }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system(call: "poll", errno: errno)
            }
            if ready == 0 {
                expired = true
                expire()
                continue
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdin {
                    let count = bytes.withUnsafeBytes { raw in
                        send(stdin, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    }
                    if count > 0 { sent += count }
                    // A child that stopped reading (EPIPE) just does not get the rest.
                    if count < 0, errno == EAGAIN || errno == EINTR { continue }
                    if count < 0 || sent == bytes.count {
                        inputOpen = false
                        shutdown(stdin, Int32(SHUT_WR))
                    }
                    continue
                }
                let count = read(entry.fd, &buffer, buffer.count)
                if count < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    throw .system(call: "read", errno: errno)
                }
                if count == 0 {
                    open[entry.fd] = false
                } else if entry.fd == stdout {
                    collected.stdout += buffer[..<count]
                } else {
                    collected.stderr += buffer[..<count]
                }
            }
        }
        return expired
    }

    // MARK: Starting

    /// Where a started child's standard stream goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// This process's own stream (the terminal, a log).
        case inherit
        /// A descriptor of this process, duplicated into the child (the caller still owns it).
        case descriptor(Int32)
    }

    /// Starts the program with these standard streams and returns at once; the caller waits
    /// for it (`ChildProcess.wait()`). The child gets an empty signal mask, default handlers for
    /// SIGINT, SIGTERM, SIGPIPE, SIGQUIT and SIGHUP, and no descriptor of ours but the three.
    public func spawn(stdin: Stream = .null, stdout: Stream = .inherit, stderr: Stream = .inherit) throws(SubprocessError) -> ChildProcess {
        let path = try executablePath()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        cspawn_addclosefrom(&actions, 3)
        if let directory { cspawn_addchdir(&actions, directory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            if spawned == ENOENT, let directory, !FileManager.default.fileExists(atPath: directory) {
                throw .cannotStart(program: path, reason: "its working directory \(directory) does not exist")
            }
            throw .cannotStart(program: path, reason: String(cString: strerror(spawned)))
        }
        return ChildProcess(pid: pid, command: description)
    }
}

/// How a child ended, and what it printed when run with `Subprocess.run()`.
public struct ProcessOutput: Sendable {
    /// How it ended.
    public var status: ExitStatus
    /// Its standard output.
    public var stdout: [UInt8]
    /// Its standard error.
    public var stderr: [UInt8]

    public init(status: ExitStatus, stdout: [UInt8], stderr: [UInt8]) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Standard output as text (invalid UTF-8 repaired).
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error as text (invalid UTF-8 repaired).
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

extension Subprocess {
    /// Runs the program and returns its output, or throws `failed` (with its status and stderr)
    /// when it did not exit with 0.
    public func checkedOutput() throws(SubprocessError) -> ProcessOutput {
        let output = try run()
        guard output.status == .exited(0) else { throw .failed(command: description, status: output.status, stderr: output.stderrText) }
        return output
    }

    /// `checkedOutput()` off the cooperative pool.
    public func checkedOutput() async throws -> ProcessOutput {
        let output = try await run()
        guard output.status == .exited(0) else {
            throw SubprocessError.failed(command: description, status: output.status, stderr: output.stderrText)
        }
        return output
    }
}

/// How a process ended.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    /// It called exit with this code.
    case exited(Int32)
    /// A signal ended it.
    case signalled(Int32)

    /// The status from `waitpid`: the low 7 bits the signal that ended it (0: it exited), then the code.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// The shell's number for it: the code, or 128 + the signal.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "signal \(signal)"
        }
    }
}

/// A started child process, waited for once.
public struct ChildProcess: Sendable {
    /// Its process id.
    public let pid: Int32
    /// Its command line, for messages.
    public let command: String

    /// Waits for it to end (retrying on EINTR).
    public func wait() throws(SubprocessError) -> ExitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw .system(call: "waitpid", errno: errno) }
        }
        return ExitStatus(waitStatus: status)
    }

    /// Sends it `signal` (SIGKILL unless told).
    public func kill(_ signal: Int32 = SIGKILL) { _ = Glibc.kill(pid, signal) }
}

/// Why a program could not be run, or how it failed.
public enum SubprocessError: Error, Equatable, CustomStringConvertible {
    /// No executable `program` on the search path.
    case notFound(program: String, searched: String)
    /// posix_spawn refused.
    case cannotStart(program: String, reason: String)
    /// It ran and did not exit with 0.
    case failed(command: String, status: ExitStatus, stderr: String)
    /// It ran past its time and was killed.
    case timedOut(command: String, after: Duration)
    /// A system call around it failed.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .notFound(let program, let searched): "\(program) is not on PATH (\(searched))"
        case .cannotStart(let program, let reason): "cannot run \(program): \(reason)"
        case .failed(let command, let status, let stderr):
            "\(command) failed with \(status)" + (Self.lastLine(stderr).map { ": \($0)" } ?? "")
        case .timedOut(let command, let after): "\(command) did not finish within \(after) and was killed"
        case .system(let call, let errno): "\(call): \(String(cString: strerror(errno)))"
        }
    }

    /// The last non-empty line of a program's stderr: where tools put the reason.
    static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
