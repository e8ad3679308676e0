import Foundation
import Glibc
import Synchronization
import SystemSupport
import Testing

@Suite("Subprocess")
struct SubprocessTests {
    @Test("stdout and stderr are read at once: 1 MiB on stderr before any stdout does not deadlock")
    func bothPipes() throws {
        let script = "head -c 1048576 /dev/zero >&2; printf done"
        let output = try Subprocess("/bin/sh", ["-c", script], timeout: .seconds(30)).run()
        #expect(output.status == .exited(0))
        #expect(output.stderr.count == 1 << 20)
        #expect(output.stdoutText == "done")
    }

    @Test("input bytes reach stdin; a child that does not read them does not kill us")
    func input() throws {
        let echoed = try Subprocess("/bin/cat", input: .bytes(Array("hello\n".utf8))).run()
        #expect(echoed.stdoutText == "hello\n")
        let big = [UInt8](repeating: 65, count: 4 << 20)
        let ignored = try Subprocess("/bin/true", input: .bytes(big)).run()
        #expect(ignored.status == .exited(0))
    }

    @Test("exit codes, signals, PATH lookup in the child's environment, working directory")
    func statusAndLookup() throws {
        #expect(try Subprocess("/bin/sh", ["-c", "exit 3"]).run().status == .exited(3))
        #expect(try Subprocess("/bin/sh", ["-c", "kill -9 $$"]).run().status == .signalled(9))
        #expect(ExitStatus.signalled(9).code == 137)
        #expect(try Subprocess("pwd", directory: "/usr").run().stdoutText == "/usr\n")
        #expect(throws: SubprocessError.notFound(program: "no-such-tool-xyz", searched: "/nonexistent")) {
            try Subprocess("no-such-tool-xyz", environment: ["PATH": "/nonexistent"]).run()
        }
        let failed = #expect(throws: SubprocessError.self) { try Subprocess("/bin/sh", ["-c", "echo why >&2; exit 2"]).checkedOutput() }
        #expect(failed?.description == "/bin/sh -c 'echo why >&2; exit 2' failed with exit status 2: why")
    }

    @Test("the child starts with default signal handling even from a thread that blocks signals")
    func signalsReset() throws {
        // SIGTERM reaches it: `sleep` would otherwise run its 30 s.
        let child = try Subprocess("/bin/sleep", ["30"]).spawn(stdout: .null, stderr: .null)
        child.kill(SIGTERM)
        #expect(try child.wait() == .signalled(SIGTERM))
    }

    @Test("a timeout kills the child and says so")
    func timeout() throws {
        let started = ContinuousClock.now
        #expect(throws: SubprocessError.timedOut(command: "/bin/sleep 30", after: .milliseconds(300))) {
            try Subprocess("/bin/sleep", ["30"], timeout: .milliseconds(300)).run()
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("cancelling the task kills the child")
    func cancellation() async throws {
        // A child left running would hold the task for its whole 600 s; the bound leaves room
        // for the cooperative pool to be busy with other tests' blocking CLI runs (seen: 26 s
        // on 2 cores, and a test that waited 53 s in all).
        let task = Task { try await Subprocess("/bin/sleep", ["600"]).run() }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(300))
    }

    @Test("no descriptor of ours leaks into the child")
    func noLeaks() throws {
        let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC
        defer { close(fd) }
        let listing = try Subprocess("/bin/ls", ["/proc/self/fd"]).run().stdoutText
        #expect(!listing.split(separator: "\n").contains(Substring("\(fd)")))
    }
}

@Suite("Parallel")
struct ParallelTests {
    struct Failure: Error, Equatable { var item: Int }

    @Test("map keeps the order and uses the width")
    func order() {
        let running = Mutex((now: 0, most: 0))
        let doubled = Parallel.map(Array(0..<40), width: 3) { item -> Int in
            running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            usleep(2000)
            running.withLock { $0.now -= 1 }
            return item * 2
        }
        #expect(doubled == (0..<40).map { $0 * 2 })
        #expect(running.withLock { $0.most } <= 3)
    }

    @Test("the first failure in the items' order is thrown, and nothing new starts after one")
    func firstFailure() throws {
        let started = Atomic<Int>(0)
        #expect(throws: Failure(item: 2)) {
            try Parallel.map(Array(0..<100), width: 2) { item -> Int in
                started.add(1, ordering: .relaxed)
                if item == 3 { throw Failure(item: 3) }
                if item == 2 { usleep(20000); throw Failure(item: 2) }
                return item
            }
        }
        #expect(started.load(ordering: .relaxed) < 100)
    }

    @Test("asyncMap: order, width, first failure, others cancelled")
    func asyncMap() async throws {
        let values = try await Parallel.asyncMap(Array(0..<20), width: 4) { item in
            try await Task.sleep(for: .milliseconds(20 - item))
            return item + 1
        }
        #expect(values == Array(1...20))
        await #expect(throws: Failure(item: 1)) {
            try await Parallel.asyncForEach(Array(0..<8), width: 8) { item in
                if item == 1 { throw Failure(item: 1) }
                try await Task.sleep(for: .seconds(30))
            }
        }
    }

    @Test("pipeline: stages run at once on threads of their own, the body's result comes back after all ended")
    func pipeline() throws {
        // Three stages handing items on through one-slot queues: wider than a pool of one core
        // would run, so they must all run at once.
        let first = OneSlot(), second = OneSlot(), ended = Atomic<Int>(0)
        let sum = Parallel.pipeline([
            {
                for item in 1...100 { first.put(item) }
                first.put(nil)
                ended.add(1, ordering: .relaxed)
            },
            {
                while let item = first.take() { second.put(item * 2) }
                second.put(nil)
                ended.add(1, ordering: .relaxed)
            },
        ]) {
            var sum = 0
            while let item = second.take() { sum += item }
            return sum
        }
        #expect(sum == 10100)
        #expect(ended.load(ordering: .relaxed) == 2)
        // A throwing body: its error comes back, after the stages ended.
        let done = Atomic<Bool>(false)
        #expect(throws: Failure(item: 1)) {
            try Parallel.pipeline([{ usleep(50_000); done.store(true, ordering: .relaxed) }]) { throw Failure(item: 1) }
        }
        let stageEnded = done.load(ordering: .relaxed)
        #expect(stageEnded)
    }

    /// A queue of one optional item between two threads.
    final class OneSlot: Sendable {
        private let slot = Mutex<(full: Bool, item: Int?)>((false, nil))
        private let filled = DispatchSemaphore(value: 0)
        private let emptied = DispatchSemaphore(value: 1)

        func put(_ item: Int?) {
            emptied.wait()
            slot.withLock { $0 = (true, item) }
            filled.signal()
        }

        func take() -> Int? {
            filled.wait()
            let item = slot.withLock { state -> Int? in
                defer { state = (false, nil) }
                return state.item
            }
            emptied.signal()
            return item
        }
    }

    @Test("offPool runs blocking work and hands its result or error back")
    func offPool() async throws {
        #expect(try await Parallel.offPool { 42 } == 42)
        await #expect(throws: Failure(item: 7)) { try await Parallel.offPool { throw Failure(item: 7) } }
    }
}

@Suite("TreePath")
struct TreePathTests {
    @Test("members: spelled one way, absolute and '..' refused")
    func members() throws {
        #expect(try TreePath(member: "./usr//bin/./x/").relative == "usr/bin/x")
        #expect(try TreePath(member: "./").isRoot)
        #expect(throws: TreePathError.absolute("/etc/passwd")) { try TreePath(member: "/etc/passwd") }
        #expect(throws: TreePathError.climbs("a/../../b")) { try TreePath(member: "a/../../b") }
        #expect(throws: TreePathError.climbs("a/..")) { try TreePath(member: "a/..") }
    }

    @Test("link targets resolve lexically from the link's folder; climbing above the root is nil")
    func links() throws {
        let folder = try TreePath(member: "usr/lib")
        #expect(folder.resolving(linkTarget: "../bin/x")?.relative == "usr/bin/x")
        #expect(folder.resolving(linkTarget: "/etc/x")?.relative == "etc/x")
        #expect(folder.resolving(linkTarget: "../../..") == nil)
        #expect(folder.resolving(linkTarget: "/../x") == nil)
        #expect(TreePath.root.resolving(linkTarget: "..") == nil)
        #expect(folder.hostPath(in: "/r") == "/r/usr/lib")
        #expect(folder.contains(try TreePath(member: "usr/lib/a")))
        #expect(!folder.contains(try TreePath(member: "usr/libx")))
    }
}

@Suite("ScratchDirectory")
struct ScratchDirectoryTests {
    @Test("made 0700 and removed with its contents")
    func lifecycle() throws {
        let path = try ScratchDirectory.with(purpose: "test") { scratch -> String in
            var info = stat()
            #expect(stat(scratch.path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o700)
            #expect(FileManager.default.createFile(atPath: scratch.appending("f"), contents: Data([1])))
            return scratch.path
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
