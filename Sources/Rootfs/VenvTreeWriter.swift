import Glibc

/// Why a path in a tree could not be written; the caller says which wheel or file asked.
enum TreeWriteError: Error {
    /// A directory on the way is a symlink: writing through it could leave the tree.
    case symlinkInPath(String)
    /// A directory on the way is something else (a file, say).
    case notADirectory(String)
    /// A system call failed.
    case system(path: String, call: String, errno: Int32)

    /// As a `RootfsError`, for callers with nothing to add.
    var rootfsError: RootfsError {
        switch self {
        case .symlinkInPath(let path): return .io(path: path, reason: "is a symlink; imagegen does not write through symlinks")
        case .notADirectory(let path): return .io(path: path, reason: "exists and is not a directory")
        case .system(let path, let call, let code): return .io(path: path, reason: "\(call): \(String(cString: strerror(code)))")
        }
    }
}

/// Writes files, directories and symlinks below a tree's root, by paths relative to it.
///
/// Every component of a path is checked on the way down: a symlink there is refused, so
/// nothing is written outside the root whatever the tree already holds. Modes are set
/// explicitly (the umask plays no part); owners are whoever runs imagegen, which is
/// irrelevant because layers are packed with uid and gid 0. Whatever this writer created
/// can be removed again with `rollback()`.
final class VenvTreeWriter {
    /// The tree's root directory.
    let root: String
    /// What was created, in order: relative path and whether it is a directory.
    private var created: [(path: String, isDirectory: Bool)] = []

    /// A writer for the existing directory `root`.
    init(root: String) throws {
        var st = stat()
        guard lstat(root, &st) == 0 else { throw TreeWriteError.system(path: root, call: "lstat", errno: errno).rootfsError }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw RootfsError.io(path: root, reason: "not a directory") }
        self.root = root
    }

    /// `root/relative`.
    func full(_ relative: String) -> String { root + "/" + relative }

    /// Creates `relative` and its missing parents (mode 0755); existing directories are kept as they are.
    func makeDirectory(_ relative: String) throws(TreeWriteError) {
        var path = ""
        for part in relative.split(separator: "/") {
            path += path.isEmpty ? String(part) : "/" + part
            var st = stat()
            if lstat(full(path), &st) == 0 {
                switch st.st_mode & S_IFMT {
                case S_IFDIR: continue
                case S_IFLNK: throw .symlinkInPath(path)
                default: throw .notADirectory(path)
                }
            }
            guard errno == ENOENT else { throw .system(path: full(path), call: "lstat", errno: errno) }
            guard mkdir(full(path), 0o755) == 0 else { throw .system(path: full(path), call: "mkdir", errno: errno) }
            guard chmod(full(path), 0o755) == 0 else { throw .system(path: full(path), call: "chmod", errno: errno) }
            created.append((path, true))
        }
    }

    /// Creates the regular file `relative`, or returns nil if something is already there.
    /// The file is made with `mode` when the returned handle is closed.
    func createFile(_ relative: String, mode: mode_t) throws(TreeWriteError) -> OutputFile? {
        try makeParent(relative)
        let fd = open(full(relative), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return nil }
            throw .system(path: full(relative), call: "open", errno: errno)
        }
        created.append((relative, false))
        return OutputFile(fd: fd, path: full(relative), mode: mode)
    }

    /// Writes a small file in one go; false if something is already there.
    func writeFile(_ relative: String, _ bytes: [UInt8], mode: mode_t) throws(TreeWriteError) -> Bool {
        guard let file = try createFile(relative, mode: mode) else { return false }
        // `withUnsafeBytes` rethrows untyped errors: carry the typed one out by hand.
        let failure: TreeWriteError? = bytes.withUnsafeBytes { buffer in
            do throws(TreeWriteError) {
                try file.write(buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        try file.close()
        return true
    }

    /// Creates the symlink `relative` → `target`; false if something is already there.
    func symlink(_ relative: String, target: String) throws(TreeWriteError) -> Bool {
        try makeParent(relative)
        if posixSymlink(target, full(relative)) != 0 {
            if errno == EEXIST { return false }
            throw .system(path: full(relative), call: "symlink", errno: errno)
        }
        created.append((relative, false))
        return true
    }

    /// The metadata of `relative` (not following a final symlink); nil if nothing is there.
    func status(_ relative: String) -> stat? {
        var st = stat()
        return lstat(full(relative), &st) == 0 ? st : nil
    }

    /// Removes, newest first, everything this writer created. Best effort: it runs while an
    /// error is already on its way.
    func rollback() {
        for item in created.reversed() {
            if item.isDirectory { rmdir(full(item.path)) } else { unlink(full(item.path)) }
        }
        created.removeAll()
    }

    private func makeParent(_ relative: String) throws(TreeWriteError) {
        if let slash = relative.lastIndex(of: "/") { try makeDirectory(String(relative[..<slash])) }
    }
}

// The C calls under names that do not clash with the methods that wrap them.
private func posixSymlink(_ target: String, _ path: String) -> Int32 { symlink(target, path) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }
private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }

/// A file being written: bytes go in with `write`, the mode is set by `close`.
final class OutputFile {
    private var fd: Int32
    /// Its full path, for messages.
    let path: String
    private let mode: mode_t

    init(fd: Int32, path: String, mode: mode_t) {
        self.fd = fd
        self.path = path
        self.mode = mode
    }

    deinit { if fd >= 0 { _ = posixClose(fd) } }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TreeWriteError) {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = posixWrite(fd, base, left)
            if written < 0 {
                if errno == EINTR { continue }
                throw .system(path: path, call: "write", errno: errno)
            }
            base += written
            left -= written
        }
    }

    /// Gives the file `size` bytes without writing any (a sparse placeholder, whose content
    /// its user takes from elsewhere).
    func reserve(_ size: Int64) throws(TreeWriteError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .system(path: path, call: "ftruncate", errno: errno) }
    }

    /// Sets the mode and closes the file.
    func close() throws(TreeWriteError) {
        guard fd >= 0 else { return }
        defer { fd = -1 }
        guard fchmod(fd, mode) == 0 else {
            let code = errno
            _ = posixClose(fd)
            throw .system(path: path, call: "fchmod", errno: code)
        }
        guard posixClose(fd) == 0 else { throw .system(path: path, call: "close", errno: errno) }
    }
}

extension VenvTreeWriter {
    /// Reads a whole file of at most `limit` bytes; nil if it cannot be opened or is larger.
    static func readSmallFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            if bytes.count > limit { return nil }
        }
    }

    /// Streams a file's bytes to `body` in chunks; false if it cannot be opened or read.
    static func streamFile(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            if count == 0 { return true }
            chunk.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }
}
