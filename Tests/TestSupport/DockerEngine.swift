import Foundation
import Glibc
import Synchronization

/// A real container engine for the tests: Debian's `dockerd` (package `docker.io`), started
/// by the test process with everything of its own under one scratch directory — data root,
/// exec root, pid file, `-H unix://` socket, an empty daemon config — with vfs storage and no
/// iptables, ip6tables or bridge (containers use `--network host` or `--network none`).
/// See `docs/building.md` ("Proof in a real engine").
///
/// ``stop()`` removes every container, stops the daemon (SIGTERM, then SIGKILL), unmounts
/// what it left mounted below the directory (the host network namespace's bind mount) and
/// removes the directory. Should the test process die first, a watchdog shell that polls it
/// does the same, so no daemon outlives the run.
///
/// The client is always `/usr/bin/docker`, with its own config directory: another `docker`
/// may come first on `PATH`, and the user's `~/.docker` must not change what the tests see.
public final class DockerEngine: Sendable {
    /// Debian's daemon.
    public static let daemonPath = "/usr/sbin/dockerd"
    /// Debian's client.
    public static let clientPath = "/usr/bin/docker"

    /// The scratch directory holding everything of this engine.
    public let root: String
    /// The daemon's socket.
    public var socket: String { "\(root)/sock" }
    /// The daemon's log (its standard output and error).
    public var logPath: String { "\(root)/dockerd.log" }

    /// The daemon's process id, and whether it has been reaped.
    private let daemon: SpawnedProcess
    /// The watchdog's.
    private let watchdog: SpawnedProcess?
    private let loads = Mutex<[String: Task<[String], any Error>]>([:])

    /// Why no engine can start on this host, or nil when one can: dockerd runs as root only
    /// (rootless mode needs rootlesskit and subordinate ids, which CI does not have), and both
    /// programs must be installed.
    public static var unavailableReason: String? {
        guard getuid() == 0 else {
            return "the real-engine tests start their own dockerd, which needs root: run the tests as root (CI does)"
        }
        for path in [daemonPath, clientPath] where !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) is missing: scripts/install-deps.sh installs Debian's docker.io"
        }
        // Root in an unprivileged container is not enough: dockerd mounts and makes network
        // namespaces. (Any other reason it cannot start fails the tests, with its log.)
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        let effective = line.flatMap { UInt64($0.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
        for (bit, name) in [(21, "CAP_SYS_ADMIN"), (12, "CAP_NET_ADMIN")] where effective & (1 << UInt64(bit)) == 0 {
            return "dockerd needs \(name), which this process lacks (an unprivileged container: run it with --privileged)"
        }
        return nil
    }

    /// Starts a daemon and waits (at most `timeout` seconds) until it answers on its socket.
    /// Throws with the end of its log when it exits or does not answer in time.
    public init(timeout: TimeInterval = 90) throws {
        if let reason = Self.unavailableReason { throw EngineError(message: reason) }
        // A short path: the daemon and containerd put unix sockets below it (108 bytes at most).
        var template = Array("\(NSTemporaryDirectory())/imagegen-engine-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw EngineError(message: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        let root = String(cString: made).replacingOccurrences(of: "//", with: "/")
        self.root = root
        guard root.utf8.count < 60 else {
            try? FileManager.default.removeItem(atPath: root)
            throw EngineError(message: "\(root): too long a path for dockerd's sockets; set TMPDIR to a shorter directory")
        }
        try writeFile("\(root)/daemon.json", "{}\n")
        try FileManager.default.createDirectory(atPath: "\(root)/client", withIntermediateDirectories: true)

        do {
            daemon = try SpawnedProcess(
                Self.daemonPath,
                [
                    "--config-file", "\(root)/daemon.json",
                    "--data-root", "\(root)/data", "--exec-root", "\(root)/exec", "--pidfile", "\(root)/dockerd.pid",
                    "-H", "unix://\(root)/sock",
                    "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
                    "--shutdown-timeout", "5",
                ],
                log: "\(root)/dockerd.log")
        } catch {
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
        // If this process dies without stop(), the watchdog stops the daemon and cleans up.
        watchdog = try? SpawnedProcess(
            "/bin/sh", ["-c", Self.watchdogScript, "imagegen-engine-watchdog", "\(getpid())", "\(daemon.pid)", root], log: "/dev/null")

        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if daemon.hasExited {
                let text = logTail()
                stop()
                throw EngineError(message: "dockerd exited while starting; its log ends:\n\(text)")
            }
            if let answer = try? docker(["version", "--format", "{{.Server.Version}}"], timeout: 20), answer.status == 0 { break }
            if Date() > deadline {
                let text = logTail()
                stop()
                throw EngineError(message: "dockerd did not answer on \(socket) within \(Int(timeout)) s; its log ends:\n\(text)")
            }
            usleep(200_000)
        }
    }

    deinit { stop() }

    /// Waits for the test process ($1) to go, then stops the daemon ($2) and removes its
    /// directory ($3), unmounting what is mounted below it first.
    static let watchdogScript = #"""
        trap '' INT TERM HUP
        while kill -0 "$1" 2>/dev/null; do sleep 2; done
        kill -TERM "$2" 2>/dev/null
        i=0
        while kill -0 "$2" 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
        kill -KILL "$2" 2>/dev/null
        awk -v root="$3/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
        rm -rf --one-file-system "$3"
        """#

    /// `/usr/bin/docker -H unix://SOCKET ARGUMENTS…`, killed after `timeout` seconds.
    public func docker(_ arguments: [String], timeout: Int = 600) throws -> ProcessResult {
        try run(
            Self.clientPath, ["-H", "unix://\(socket)"] + arguments,
            environment: ["DOCKER_CONFIG": "\(root)/client", "DOCKER_CONTEXT": "default"],
            timeout: timeout)
    }

    /// `docker load -i ARCHIVE`, once per archive path for the life of the engine (callers
    /// that ask at the same time share the one load); the references it loaded
    /// (`Loaded image: REF`).
    public func load(_ archive: String) async throws -> [String] {
        let task = loads.withLock { loads in
            if let task = loads[archive] { return task }
            let task = Task { () throws -> [String] in
                let result = try self.docker(["load", "-i", archive])
                guard result.status == 0 else {
                    throw EngineError(message: "docker load -i \(archive): \(result.stderr)\(result.stdout)")
                }
                return result.stdout.split(separator: "\n").compactMap { line -> String? in
                    guard let range = line.range(of: "Loaded image: ") else { return nil }
                    return String(line[range.upperBound...])
                }
            }
            loads[archive] = task
            return task
        }
        return try await task.value
    }

    /// The last `bytes` of the daemon's log.
    public func logTail(_ bytes: Int = 4000) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }

    /// Removes every container, stops the daemon, unmounts what it left below ``root`` and
    /// removes ``root``. Safe to call more than once.
    public func stop() {
        watchdog?.kill(SIGKILL)
        _ = watchdog?.waitForExit(timeout: 5)
        if !daemon.hasExited {
            // Containers first: a running one holds its shim and mounts past the daemon.
            if let listed = try? docker(["ps", "-aq"], timeout: 60), listed.status == 0 {
                let ids = listed.stdout.split(separator: "\n").map(String.init)
                if !ids.isEmpty { _ = try? docker(["rm", "-f"] + ids, timeout: 120) }
            }
            daemon.kill(SIGTERM)
            if !daemon.waitForExit(timeout: 30) {
                daemon.kill(SIGKILL)
                _ = daemon.waitForExit(timeout: 30)
            }
        }
        // The containerd that dockerd started goes with it; one left by a SIGKILL does not.
        if let text = try? String(contentsOfFile: "\(root)/exec/containerd/containerd.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.contains(root) == true
        {
            Glibc.kill(pid, SIGKILL)
        }
        for mount in Self.mounts(below: root) { umount2(mount, Int32(MNT_DETACH)) }
        guard FileManager.default.fileExists(atPath: root) else { return }
        // Never across a mount point: whatever is still mounted below stays.
        _ = try? run("rm", ["-rf", "--one-file-system", root], timeout: 300)
    }

    /// Mount points at or below `directory` (from /proc/self/mountinfo), deepest first.
    static func mounts(below directory: String) -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        // Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = String(fields[4])
            return point == directory || point.hasPrefix(directory + "/") ? point : nil
        }.sorted { $0.count > $1.count }
    }

    /// The engine could not start or do what was asked.
    public struct EngineError: Error, CustomStringConvertible {
        /// What happened, with the daemon's or the client's own words.
        public var message: String
        public var description: String { message }
    }
}

/// Waits (at most `timeout` seconds) until something accepts connections on 127.0.0.1:`port`.
public func waitForLoopbackPort(_ port: Int, timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if canConnect(port: port) { return true }
        usleep(100_000)
    }
    return false
}

/// A child process started with `posix_spawn`: its own process group (a Ctrl-C meant for the
/// test run reaches the watchdog's clean-up rather than the daemon mid-write), no blocked
/// signals and default dispositions (Foundation's `Process` passes on the spawning thread's
/// mask, in which the dispatch pool blocks SIGTERM), standard input from /dev/null, standard
/// output and error appended to `log`. Reaped with `waitpid` by its own id only.
final class SpawnedProcess: Sendable {
    /// Its process id.
    let pid: pid_t
    private let reaped = Mutex(false)

    init(_ path: String, _ arguments: [String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw DockerEngine.EngineError(message: "\(path) did not start: \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    /// Whether it has exited (reaping it if so).
    var hasExited: Bool {
        reaped.withLock { reaped in
            if !reaped {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                reaped = result == pid || (result < 0 && errno == ECHILD)
            }
            return reaped
        }
    }

    /// Sends `signal` unless it has been reaped (its id may belong to another process then).
    func kill(_ signal: Int32) {
        reaped.withLock { reaped in
            if !reaped { _ = Glibc.kill(pid, signal) }
        }
    }

    /// Waits up to `timeout` seconds for it to exit; whether it did.
    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !hasExited {
            guard Date() < deadline else { return false }
            usleep(50_000)
        }
        return true
    }
}
