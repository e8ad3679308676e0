import Glibc
import SystemSupport

/// Why a path inside a tree cannot be used.
enum DebPathProblem: Error, CustomStringConvertible {
    /// Following the symlink at `via` climbs above the tree's root.
    case escapes(via: String)
    /// `path` is used as a directory but is something else.
    case notDirectory(path: String)
    /// More than 40 symlinks were followed (a loop).
    case loop(at: String)

    var description: String {
        switch self {
        case .escapes(let via): return "the symlink '\(via)' leads outside the tree"
        case .notDirectory(let path): return "'\(path)' is not a directory"
        case .loop(let at): return "too many levels of symlinks at '\(at)'"
        }
    }
}

/// A directory tree that stands for an image's root file system: every path is resolved the way
/// the container will see it (an absolute symlink target starts at the tree's root, `..` never
/// climbs above it), so nothing written through this type lands outside the tree, whatever
/// symlinks earlier packages planted.
struct DebRootTree {
    /// What a path is.
    enum Node: Equatable {
        case missing, directory, regular, symlink(target: String), other
    }

    /// The tree's root, with symlinks in it resolved, so that host paths built from it name
    /// the same files whichever way the root was given.
    let root: String

    /// The tree at `root`, which must be a directory.
    init(root: String) throws {
        guard let real = realpath(root, nil) else {
            throw RootfsError.io(path: root, reason: String(cString: strerror(errno)))
        }
        defer { free(real) }
        self.root = String(cString: real)
        var st = stat()
        guard lstat(self.root, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw RootfsError.io(path: root, reason: "not a directory")
        }
    }

    /// The host path of a physical (already resolved) relative path.
    func hostPath(_ parts: [String]) -> String {
        parts.isEmpty ? root : root + "/" + parts.joined(separator: "/")
    }

    /// What is at a physical relative path (symlinks are not followed).
    func node(_ parts: [String]) -> Node {
        var st = stat()
        let path = hostPath(parts)
        guard lstat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regular
        case S_IFLNK: return .symlink(target: (try? Self.readLink(path)) ?? "")
        default: return .other
        }
    }

    /// Resolves `parts` to a physical path inside the tree, following symlinks in every
    /// component (and in the last one too with `followLast`). `overlay` answers first for paths
    /// it knows (entries an archive will create before this one). Missing components are kept
    /// as they are: they will be created as directories.
    func resolve(
        _ parts: [String], followLast: Bool, overlay: ([String]) -> Node? = { _ in nil }
    ) throws(DebPathProblem) -> TreePath {
        var resolved = TreePath.root
        // A stack of the components still to walk, the next one last.
        var pending: [(part: String, last: Bool)] = parts.enumerated().reversed().map { ($0.element, $0.offset == parts.count - 1) }
        var hops = 0
        while let (part, last) = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                guard !resolved.isRoot else { throw .escapes(via: parts.joined(separator: "/")) }
                resolved = resolved.parent
                continue
            }
            let candidate = resolved.appending(part)
            let node = overlay(candidate.components) ?? node(candidate.components)
            switch node {
            case .symlink(let target) where !last || followLast:
                hops += 1
                guard hops <= 40 else { throw .loop(at: candidate.relative) }
                // `..` in a target is checked against the link's own directory, so the error
                // names the link rather than the path that went through it.
                guard resolved.resolving(linkTarget: target) != nil else { throw .escapes(via: candidate.relative) }
                if target.hasPrefix("/") {
                    resolved = .root
                }
                // Walked component by component: a link among them is followed too. Only the
                // target's own last component is the path's last one.
                let targetParts = target.split(separator: "/").map(String.init)
                pending += targetParts.enumerated().reversed().map { ($0.element, last && $0.offset == targetParts.count - 1) }
            case .regular, .other:
                guard last else { throw .notDirectory(path: candidate.relative) }
                resolved = candidate
            case .missing, .directory, .symlink:
                resolved = candidate
            }
        }
        return resolved
    }

    /// Resolves `path`, turning a problem into an I/O error on the path (for the fixups, which
    /// only touch paths the tree's own packages made).
    func physical(_ path: String, followLast: Bool) throws -> [String] {
        do {
            return try resolve(TreePath.components(of: path), followLast: followLast).components
        } catch {
            throw RootfsError.io(path: hostPath(TreePath.components(of: path)), reason: error.description)
        }
    }

    // MARK: Reading

    /// The contents of the file at `path` (symlinks followed inside the tree), or nil when there
    /// is no regular file there.
    func readFile(_ path: String) throws -> [UInt8]? {
        let parts = try physical(path, followLast: true)
        guard node(parts) == .regular else { return nil }
        let host = hostPath(parts)
        let fd = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
            if n == 0 { return bytes }
            bytes += chunk.prefix(n)
        }
    }

    /// What `path` is, its last component not followed.
    func kind(_ path: String) throws -> Node {
        node(try physical(path, followLast: false))
    }

    /// Whether `path` leads to a directory (symlinks followed inside the tree).
    func isDirectory(_ path: String) throws -> Bool {
        node(try physical(path, followLast: true)) == .directory
    }

    /// Whether anything (a dangling symlink included) is at `path`.
    func exists(_ path: String) throws -> Bool {
        try kind(path) != .missing
    }

    /// The names in the directory at `path` (symlinks followed inside the tree), sorted by
    /// bytes; empty when it is not a directory.
    func list(_ path: String) throws -> [String] {
        let parts = try physical(path, followLast: true)
        guard node(parts) == .directory, let handle = opendir(hostPath(parts)) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let item = readdir(handle) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    // MARK: Writing

    /// Creates the directory `path` and its missing parents with `mode` (not masked by the
    /// umask); existing directories are left as they are.
    func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws {
        var done: [String] = []
        for part in TreePath.components(of: path) {
            let parts = try physical((done + [part]).joined(separator: "/"), followLast: true)
            done.append(part)
            switch node(parts) {
            case .directory: continue
            case .missing:
                let host = hostPath(parts)
                guard mkdir(host, 0o700) == 0 || errno == EEXIST, chmod(host, mode_t(mode)) == 0 else {
                    throw RootfsError.io(path: host, reason: String(cString: strerror(errno)))
                }
            default:
                throw RootfsError.io(path: hostPath(parts), reason: "exists and is not a directory")
            }
        }
    }

    /// Writes a regular file (replacing a file or symlink at `path`), with `mode` and owner.
    func writeFile(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0) throws {
        let parts = try prepareLeaf(path)
        let host = hostPath(parts)
        let fd = open(host, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
            done += n
        }
        // Owner first: chown clears setuid bits, fchmod then sets exactly `mode`.
        // Unprivileged (a test, a rootless build) the files keep the caller's ids.
        guard fchown(fd, uid, gid) == 0 || (errno == EPERM && getuid() != 0), fchmod(fd, mode_t(mode)) == 0 else {
            throw RootfsError.io(path: host, reason: String(cString: strerror(errno)))
        }
    }

    /// Writes a text file.
    func writeFile(_ path: String, _ text: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0) throws {
        try writeFile(path, Array(text.utf8), mode: mode, uid: uid, gid: gid)
    }

    /// Makes `path` a symlink to `target` (replacing a file or symlink there).
    func makeSymlink(_ path: String, to target: String) throws {
        let host = hostPath(try prepareLeaf(path))
        guard symlink(target, host) == 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
    }

    /// Removes the file or symlink at `path`, if any (never a directory).
    func remove(_ path: String) throws {
        _ = try prepareLeaf(path)
    }

    /// Removes the directory at `path` if it is empty; false if it holds anything.
    func removeEmptyDirectory(_ path: String) throws -> Bool {
        let host = hostPath(try physical(path, followLast: false))
        if rmdir(host) == 0 { return true }
        if errno == ENOTEMPTY || errno == EEXIST { return false }
        throw RootfsError.io(path: host, reason: String(cString: strerror(errno)))
    }

    /// Sets the owner and then the mode (in that order: a change of owner clears setuid and
    /// setgid bits) of what is at `path`, its last component not followed.
    func setOwnerAndMode(_ path: String, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0) throws {
        let host = hostPath(try physical(path, followLast: false))
        guard lchown(host, uid, gid) == 0 || (errno == EPERM && getuid() != 0), chmod(host, mode_t(mode)) == 0 else {
            throw RootfsError.io(path: host, reason: String(cString: strerror(errno)))
        }
    }

    /// Creates the parents of `path` and clears its place: the physical path, ready for a new file.
    private func prepareLeaf(_ path: String) throws -> [String] {
        let components = TreePath.components(of: path)
        guard !components.isEmpty else { throw RootfsError.io(path: root, reason: "the tree's root is not a file") }
        try makeDirectories(components.dropLast().joined(separator: "/"))
        let parts = try physical(path, followLast: false)
        let host = hostPath(parts)
        switch node(parts) {
        case .missing: break
        case .directory: throw RootfsError.io(path: host, reason: "is a directory")
        default:
            guard unlink(host) == 0 else { throw RootfsError.io(path: host, reason: String(cString: strerror(errno))) }
        }
        return parts
    }

    static func readLink(_ path: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buffer.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, $0.count) }
        guard n >= 0 else { throw RootfsError.io(path: path, reason: "readlink: \(String(cString: strerror(errno)))") }
        return String(decoding: buffer.prefix(n), as: UTF8.self)
    }
}
