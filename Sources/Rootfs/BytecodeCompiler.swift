import Glibc
import Foundation
import Layers
import OCI
import Synchronization
import SystemSupport

/// Byte-compiles a component tree's Python files into `.pyc` files beside them, with a host
/// CPython of the image's version (``HostPython``) running ``PycCompilerProgram``.
///
/// Each worker is one long-running interpreter fed many files over a socket, so torch's
/// thousands of modules cost one interpreter start per worker, and a file's bytes never depend
/// on which worker compiled it or what it compiled before (measured in docs/building.md).
/// Sources come from the tree, from a wheel's deflate stream (a placeholder's bytes), or from
/// memory; each `.pyc` is written into the tree by this process, mode 0644, its missing
/// `__pycache__` directory 0755, never through a symlink.
///
/// The `.pyc` files are what pip and Debian's `py_compile` write: optimisation level 0, the
/// path the code records (`co_filename`) is the file's path in the image, and by default the
/// header is a timestamp one (``Flavour/timestamp``) holding the time the layer gives every
/// file, so the image's Python finds each `.pyc` valid and never writes one.
public struct BytecodeCompiler: Sendable {
    /// How a `.pyc` says which source it was compiled from (PEP 552).
    public enum Flavour: String, Sendable, CaseIterable {
        /// The source's mtime and size: valid while the file keeps the layer's time. What
        /// Debian and pip write; checking it costs the `stat` the import does anyway.
        case timestamp
        /// The source's SipHash, checked at every import: each import reads and hashes the source.
        case checkedHash = "checked-hash"
        /// The source's SipHash, never checked: an edited source would run stale bytecode.
        case uncheckedHash = "unchecked-hash"
    }

    /// A Python file to compile.
    public struct Source: Sendable {
        /// Where its bytes are.
        public enum Content: Sendable {
            /// A file on this machine (in the tree, or its symlink's target there).
            case file(String)
            /// A wheel member's deflate stream that inflates to `size` bytes (a placeholder's content).
            case deflated(DeflatedSource, size: Int64)
            /// In memory (a lower layer's package file).
            case bytes([UInt8])
        }

        /// The file's path relative to the tree's root (`usr/lib/python3.11/os.py`): its
        /// `.pyc` goes to `__pycache__/` beside it, and `/` + it is the path the code records.
        public var path: String
        /// Its bytes.
        public var content: Content

        /// A source at `path` (tree-relative) with `content`.
        public init(path: String, content: Content) {
            self.path = path
            self.content = content
        }
    }

    /// The interpreter.
    public let python: HostPython
    /// The `.pyc` flavour.
    public let flavour: Flavour
    /// How many interpreters compile side by side (the files' bytes do not depend on it).
    public let workers: Int

    /// A compiler running `python`, `workers` interpreters at most.
    public init(python: HostPython, flavour: Flavour = .timestamp, workers: Int = 1) {
        self.python = python
        self.flavour = flavour
        self.workers = max(1, workers)
    }

    /// Everything the `.pyc` bytes depend on besides the sources and the layer's time, for the
    /// keys of the layers that carry them: flavour, optimisation level, the interpreter's
    /// implementation, full version and magic number, and this program.
    public var identity: String {
        let program = Digest.of(Array(PycCompilerProgram.source.utf8)).encoded.prefix(16)
        return "pyc \(flavour.rawValue) opt-0 \(python.cacheTag) \(python.version) magic \(python.magic) program \(program)"
    }

    /// The `.pyc` of a source at `path` (tree-relative): `DIR/__pycache__/NAME.TAG.pyc`, as
    /// `importlib.util.cache_from_source` names it at optimisation level 0 (PEP 3147); nil
    /// when `path` does not end in `.py` or has no name before it.
    public func cachePath(of path: String) -> String? {
        guard path.hasSuffix(".py") else { return nil }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) + "/" } ?? ""
        let name = String(path[(slash.map { path.index(after: $0) } ?? path.startIndex)...].dropLast(3))
        guard !name.isEmpty else { return nil }
        return "\(directory)__pycache__/\(name).\(python.cacheTag).pyc"
    }

    /// Compiles `sources` and writes their `.pyc` files into the tree at `root`, with `mtime`
    /// (the time every file of the layer gets) as the sources' time in a timestamp header.
    /// A `.pyc` that the tree already has is left as it is; a source given twice is compiled
    /// once. Returns the tree-relative `.pyc` path of every source that compiled, by source
    /// path; a source that does not compile is left out (pip and `py_compile` skip them too).
    public func compile(_ sources: [Source], into root: String, mtime: Int64) throws -> [String: String] {
        let writer = try VenvTreeWriter(root: root)
        var seen: Set<String> = []
        var jobs: [Job] = []
        for source in sources where seen.insert(source.path).inserted {
            // The request line ends at a newline; a tree path with one cannot be sent (nor imported).
            guard let target = cachePath(of: source.path), !source.path.contains("\n"), writer.status(target) == nil else { continue }
            jobs.append(Job(source: source, target: target))
        }
        guard !jobs.isEmpty else { return [:] }
        // An interpreter per 100 files at most: a few files are not worth a second start.
        let count = min(workers, (jobs.count + 99) / 100)
        let shared = Shared(jobs: jobs, writer: writer)
        try Parallel.forEach(Array(0..<count), width: count) { _ in
            do {
                try runWorker(shared, mtime: mtime)
            } catch {
                // The other workers take no new job and end.
                shared.stop()
                throw error
            }
        }
        return shared.compiled.withLock { $0 }
    }

    // MARK: Workers

    /// One file to compile and where its `.pyc` goes.
    struct Job: Sendable {
        var source: Source
        var target: String
    }

    /// What the workers share: the jobs, the next one to take, the tree writer and the results.
    final class Shared: Sendable {
        let jobs: [Job]
        let next = Mutex(0)
        let writer: Mutex<VenvTreeWriter>
        let compiled = Mutex<[String: String]>([:])

        init(jobs: [Job], writer: sending VenvTreeWriter) {
            self.jobs = jobs
            self.writer = Mutex(writer)
        }

        /// The next job's index, or nil when none is left.
        func take() -> Int? {
            next.withLock { value in
                guard value < jobs.count else { return nil }
                defer { value += 1 }
                return value
            }
        }

        /// Leaves the remaining jobs untaken (a worker failed).
        func stop() { next.withLock { $0 = jobs.count } }
    }

    /// What the feeding thread tells the reading one, in the order it sent requests.
    enum Fed: Sendable {
        case job(Int)
        case failed(any Error)
        case end
    }

    /// The command line of pyc-compiler with `flavour` (or `probe`): no `site`, no user site,
    /// no `.pyc` written for the compiler's own imports.
    static func arguments(flavour: String) -> [String] {
        ["-S", "-s", "-B", "-c", PycCompilerProgram.source, flavour]
    }

    /// The interpreter's environment: this process's without `PYTHON*` variables (a
    /// `PYTHONPATH` or `PYTHONWARNINGS=error` must not reach it), and `PYTHONHASHSEED=0` so
    /// that nothing hash-ordered varies (3.11 already marshals sets in a fixed order).
    static func environment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PYTHON") }
        environment["PYTHONHASHSEED"] = "0"
        return environment
    }

    /// Runs one interpreter until no job is left: a feeding thread sends each job's source as
    /// it takes it, this thread reads the answers in the same order and writes the `.pyc` files.
    private func runWorker(_ shared: Shared, mtime: Int64) throws {
        let interpreter = python.executable
        let failure: @Sendable (String) -> RootfsError = { .bytecodeCompiler(interpreter: interpreter, reason: $0) }
        // stderr goes to a file, which needs no reader beside the interpreter; it is read on failure.
        let scratch: ScratchDirectory
        do {
            scratch = try ScratchDirectory(purpose: "pyc")
        } catch {
            throw failure("cannot make a scratch folder: \(error)")
        }
        defer { scratch.remove() }
        let errorLog = scratch.appending("stderr")
        let errors = open(errorLog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errors >= 0 else { throw failure("cannot create \(errorLog)") }
        defer { close(errors) }
        // stdin is a socket, not a pipe: a send to an interpreter that died fails with EPIPE
        // (MSG_NOSIGNAL) instead of killing imagegen with SIGPIPE.
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
            throw failure("socketpair: \(String(cString: strerror(errno)))")
        }
        var outputPipe: [Int32] = [-1, -1]
        guard pipe(&outputPipe) == 0, fcntl(outputPipe[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(outputPipe[1], F_SETFD, FD_CLOEXEC) == 0 else {
            close(sockets[0])
            close(sockets[1])
            throw failure("pipe: \(String(cString: strerror(errno)))")
        }
        let input = sockets[0], output = outputPipe[0]

        let started = Result { () throws(SubprocessError) -> ChildProcess in
            try Subprocess(interpreter, Self.arguments(flavour: flavour.rawValue), environment: Self.environment())
                .spawn(stdin: .descriptor(sockets[1]), stdout: .descriptor(outputPipe[1]), stderr: .descriptor(errors))
        }
        // The child has its ends; ours must close so that its exit reads as the end of output.
        close(sockets[1])
        close(outputPipe[1])
        let child: ChildProcess
        switch started {
        case .success(let started): child = started
        case .failure(let error):
            close(input)
            close(output)
            if case .cannotStart(_, let reason) = error { throw failure("cannot start: \(reason)") }
            throw failure("cannot start: \(error)")
        }

        let queue = BoundedQueue<Fed>(capacity: shared.jobs.count + 2)
        var reader = LineReader(descriptor: output)
        var outcome: (any Error)?
        do {
            let ready = try reader.line().map { String(decoding: $0, as: UTF8.self) }
            guard let ready, let found = HostPython.parse(readyLine: ready, executable: interpreter),
                  found.version == python.version, found.magic == python.magic, found.cacheTag == python.cacheTag
            else { throw failure("did not start as the CPython \(python.version) it was found to be") }
        } catch {
            outcome = error
        }
        if outcome == nil {
            do {
                try Parallel.pipeline([{ Self.feed(shared, to: input, mtime: mtime, queue: queue) }]) {
                    do {
                        try readAnswers(shared, from: &reader, queue: queue, failure: failure)
                    } catch {
                        // The feeder stops at its next send (EPIPE) once the interpreter is gone.
                        child.kill()
                        shared.stop()
                        // What it queued is taken up to its end: a queue dropped with items in
                        // it would trip libdispatch's check on its semaphore.
                        while true { if case .end = queue.take() { break } }
                        throw error
                    }
                }
            } catch {
                outcome = error
            }
        } else {
            child.kill()
            shared.stop()
        }
        close(input)
        let status = Result { try child.wait() }
        close(output)
        if let outcome {
            if let log = try? FileReader.readAll(path: errorLog, limit: 1 << 20), !log.isEmpty {
                throw failure("\(outcome); its error output: \(String(decoding: log.suffix(2000), as: UTF8.self))")
            }
            throw outcome
        }
        guard case .success(.exited(0)) = status else {
            let log = (try? FileReader.readAll(path: errorLog, limit: 1 << 20)).map { String(decoding: $0.suffix(2000), as: UTF8.self) } ?? ""
            let how = switch status {
            case .success(.exited(let code)): "\(code)"
            case .success(.signalled(let signal)): "\(signal)"
            case .failure(let error): "unknown (\(error))"
            }
            throw failure("exited with status \(how): \(log)")
        }
    }

    /// Sends every job it takes: `LENGTH MTIME DFILE\n` and the source. The job's index is
    /// queued before its request is sent, so the reader always knows what it waits for.
    private static func feed(_ shared: Shared, to socket: Int32, mtime: Int64, queue: BoundedQueue<Fed>) {
        defer {
            shutdown(socket, Int32(SHUT_WR))
            queue.put(.end)
        }
        while let index = shared.take() {
            let job = shared.jobs[index]
            let bytes: [UInt8]
            do {
                bytes = try job.source.read()
            } catch {
                queue.put(.failed(error))
                return
            }
            queue.put(.job(index))
            let header = Array("\(bytes.count) \(mtime) /\(job.source.path)\n".utf8)
            guard sendAll(socket, header), sendAll(socket, bytes) else { return }
        }
    }

    /// Writes all of `bytes` to the socket; false when the interpreter is gone.
    private static func sendAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = send(socket, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
    }

    /// Reads one answer per queued job and writes each `.pyc` into the tree.
    private func readAnswers(
        _ shared: Shared, from reader: inout LineReader, queue: BoundedQueue<Fed>, failure: (String) -> RootfsError
    ) throws {
        while true {
            switch queue.take() {
            case .end: return
            case .failed(let error): throw error
            case .job(let index):
                let job = shared.jobs[index]
                guard let line = try reader.line() else { throw failure("stopped answering (at \(job.source.path))") }
                if line.starts(with: Array("SKIP ".utf8)) { continue }
                guard line.starts(with: Array("OK ".utf8)), let length = Int(String(decoding: line.dropFirst(3), as: UTF8.self)),
                      let pyc = try reader.bytes(length)
                else { throw failure("answered '\(String(decoding: line.prefix(200), as: UTF8.self))' for \(job.source.path)") }
                let written = try shared.writer.withLock { writer throws(RootfsError) -> Bool in
                    do throws(TreeWriteError) {
                        return try writer.writeFile(job.target, pyc, mode: 0o644)
                    } catch {
                        switch error {
                        // A directory on the way is a symlink or a file (a package's odd
                        // layout): no .pyc there, as the import would not write one either.
                        case .symlinkInPath, .notADirectory: return false
                        case .system: throw error.rootfsError
                        }
                    }
                }
                if written { shared.compiled.withLock { $0[job.source.path] = job.target } }
            }
        }
    }
}

extension BytecodeCompiler.Source {
    /// The source's bytes.
    func read() throws -> [UInt8] {
        switch content {
        case .file(let path): return try FileReader.readAll(path: path, limit: 1 << 30)
        case .deflated(let stream, let size): return try stream.inflatedBytes(size: size)
        case .bytes(let bytes): return bytes
        }
    }
}

/// Reads lines and byte runs from a file descriptor through a buffer.
struct LineReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// The next line without its `\n`; nil at the end of the input.
    mutating func line() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                return line
            }
            guard try fill() else { return nil }
        }
    }

    /// The next `count` bytes; nil if the input ends before them.
    mutating func bytes(_ count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            guard try fill() else { return nil }
        }
        defer { start += count }
        return Array(buffer[start..<(start + count)])
    }

    /// Reads more input; false at its end.
    private mutating func fill() throws -> Bool {
        guard !ended else { return false }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        let chunk = 1 << 16
        let old = buffer.count
        buffer += [UInt8](repeating: 0, count: chunk)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + old, chunk) }
            if n < 0, errno == EINTR { continue }
            buffer.removeLast(chunk - max(0, n))
            if n < 0 { throw RootfsError.io(path: "pyc-compiler's output", reason: String(cString: strerror(errno))) }
            if n == 0 { ended = true }
            return n > 0
        }
    }
}
