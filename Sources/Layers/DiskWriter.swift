import Glibc
import SystemSupport

/// Writes unpacked archive entries into a directory with plain system calls, every mode,
/// owner and link given explicitly.
///
/// It replaces libarchive's disk writer, which learns the umask the only way POSIX allows — it
/// sets the process umask to 0 and back — when it is made and again for every entry header
/// (libarchive 3.6.2). While it is 0, any file another thread makes by mode-and-umask, and any
/// child process started, gets other modes; no lock of ours can stop that, so imagegen does not
/// touch the umask at all, and nothing it writes takes a mode from it.
///
/// - Paths are relative to `root`, without `..`. Every parent must be a real directory: a
///   symlink on the way is refused (an earlier entry cannot make a later one land outside
///   the tree), and a missing parent is made with mode 0755, as tar and dpkg make it.
/// - A file, link or fifo replaces whatever non-directory is at its path; nothing replaces a
///   directory. A directory entry over a directory keeps it and takes the entry's mode.
/// - Directory modes are applied by ``finish()``, deepest first, so that a read-only
///   directory can still be filled; file modes (setuid included) after their owner.
/// - Owners are set only when the writer was made with `owners: true` and runs as root;
///   otherwise everything belongs to whoever runs imagegen.
public final class DiskWriter {
    /// A numeric owner.
    public struct Owner: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32

        public init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }
    }

    /// The directory entries are written below (absolute or relative to the working directory).
    public let root: String
    private let owners: Bool
    /// Relative paths known to be real directories (made or checked by this writer).
    private var directories: Set<String> = [""]
    /// Directory entries whose mode and owner wait for `finish()`, by relative path.
    private var pendingDirectories: [String: (mode: UInt32, owner: Owner?)] = [:]

    /// A writer into the existing directory `root`; with `owners`, entries keep their owners
    /// when imagegen runs as root.
    public init(root: String, owners: Bool) {
        self.root = root
        self.owners = owners && geteuid() == 0
    }

    // MARK: Entries

    /// A directory (made if missing; its mode and owner are applied by ``finish()``).
    public func directory(_ path: String, mode: UInt32, owner: Owner? = nil) throws {
        let (relative, host) = try prepare(path)
        var st = stat()
        if lstat(host, &st) == 0 {
            if st.st_mode & S_IFMT != S_IFDIR {
                try removeNonDirectory(host)
                try makeDirectory(host)
            }
        } else if errno == ENOENT {
            try makeDirectory(host)
        } else {
            throw failure(host)
        }
        directories.insert(relative)
        pendingDirectories[relative] = (mode & 0o7777, owner)
    }

    /// A regular file of `size` bytes (nil: as long as its blocks reach). `contents` is called
    /// once with a function that writes a block at an offset (blocks may leave holes: the file
    /// stays sparse there).
    public func file(
        _ path: String, mode: UInt32, owner: Owner? = nil, size: Int64?,
        contents: (_ write: (UnsafeRawBufferPointer, Int64) throws -> Void) throws -> Void
    ) throws {
        let (_, host) = try prepare(path)
        try removeNonDirectory(host)
        let fd = open(host, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(host) }
        var closed = false
        defer { if !closed { close(fd) } }
        var end: Int64 = 0
        try contents { block, offset in
            var done = 0
            while done < block.count {
                let n = pwrite(fd, block.baseAddress! + done, block.count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw self.failure(host) }
                done += n
            }
            if block.count > 0 { end = max(end, offset + Int64(block.count)) }
        }
        // A hole at the end of a sparse file has no block to write.
        if let size, end != size { guard ftruncate(fd, off_t(size)) == 0 else { throw failure(host) } }
        // chown clears setuid and setgid: the mode comes after the owner.
        if owners, let owner { guard fchown(fd, owner.uid, owner.gid) == 0 else { throw failure(host) } }
        guard fchmod(fd, mode_t(mode & 0o7777)) == 0 else { throw failure(host) }
        closed = true
        guard close(fd) == 0 else { throw failure(host) }
    }

    /// A symbolic link to `target` (stored as given).
    public func symlink(_ path: String, target: String, owner: Owner? = nil) throws {
        let (_, host) = try prepare(path)
        try removeNonDirectory(host)
        guard Glibc.symlink(target, host) == 0 else { throw failure(host) }
        if owners, let owner { guard lchown(host, owner.uid, owner.gid) == 0 else { throw failure(host) } }
    }

    /// A hard link to the file at `existing` (relative to the root, written earlier).
    public func hardlink(_ path: String, to existing: String) throws {
        let (_, source) = try prepare(existing)
        let (_, host) = try prepare(path)
        guard host != source else { return }
        try removeNonDirectory(host)
        guard link(source, host) == 0 else { throw failure(host, "hard link to '\(existing)'") }
    }

    /// What kind of special file ``special(_:kind:mode:device:owner:)`` makes.
    public enum SpecialKind: Sendable {
        case fifo, characterDevice, blockDevice
    }

    /// A fifo, or (as root) a device node with the device number `device`.
    public func special(_ path: String, kind: SpecialKind, mode: UInt32, device: UInt64 = 0, owner: Owner? = nil) throws {
        let (_, host) = try prepare(path)
        try removeNonDirectory(host)
        let type: mode_t
        switch kind {
        case .fifo: type = S_IFIFO
        case .characterDevice: type = S_IFCHR
        case .blockDevice: type = S_IFBLK
        }
        guard mknod(host, type | 0o600, dev_t(device)) == 0 else { throw failure(host) }
        if owners, let owner { guard lchown(host, owner.uid, owner.gid) == 0 else { throw failure(host) } }
        guard chmod(host, mode_t(mode & 0o7777)) == 0 else { throw failure(host) }
    }

    /// Applies the directory entries' owners and modes, deepest first. Call it once, after the
    /// last entry.
    public func finish() throws {
        for (relative, pending) in pendingDirectories.sorted(by: { $0.key > $1.key }) {
            let host = relative.isEmpty ? root : root + "/" + relative
            let owner = owners ? pending.owner : nil
            // Through a descriptor that cannot be a symlink; by path only where the directory
            // cannot be opened (not root, and no read permission).
            let fd = open(host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if let owner { guard fchown(fd, owner.uid, owner.gid) == 0 else { throw failure(host) } }
                guard fchmod(fd, mode_t(pending.mode)) == 0 else { throw failure(host) }
            } else {
                guard errno == EACCES else { throw failure(host) }
                if let owner { guard lchown(host, owner.uid, owner.gid) == 0 else { throw failure(host) } }
                guard chmod(host, mode_t(pending.mode)) == 0 else { throw failure(host) }
            }
        }
        pendingDirectories = [:]
    }

    // MARK: Paths

    /// Checks `path` (no `..`, not the root itself) and its parents (real directories; missing
    /// ones are made with 0755); returns the normalised relative path and the host path.
    private func prepare(_ path: String) throws -> (relative: String, host: String) {
        guard let tree = try? TreePath(rooted: path), !tree.isRoot else {
            throw LayerError.invalidEntry(path: path, reason: "expected a path below the root without '..'")
        }
        var relative = ""
        for part in tree.parent.components {
            relative += relative.isEmpty ? String(part) : "/" + part
            guard !directories.contains(relative) else { continue }
            let host = root + "/" + relative
            var st = stat()
            if lstat(host, &st) == 0 {
                switch st.st_mode & S_IFMT {
                case S_IFDIR: break
                case S_IFLNK: throw LayerError.invalidEntry(path: path, reason: "'\(relative)' is a symlink; refusing to write through it")
                default: throw LayerError.invalidEntry(path: path, reason: "'\(relative)' is not a directory")
                }
            } else if errno == ENOENT {
                try makeDirectory(host)
                guard chmod(host, 0o755) == 0 else { throw failure(host) }
            } else {
                throw failure(host)
            }
            directories.insert(relative)
        }
        return (tree.relative, tree.hostPath(in: root))
    }

    /// `mkdir` with a mode the umask cannot widen (the final mode is set explicitly after).
    private func makeDirectory(_ host: String) throws {
        guard mkdir(host, 0o700) == 0 || errno == EEXIST else { throw failure(host) }
    }

    /// Removes the file, link or special file at `host`, if any; refuses to touch a directory.
    private func removeNonDirectory(_ host: String) throws {
        var st = stat()
        guard lstat(host, &st) == 0 else {
            if errno == ENOENT { return }
            throw failure(host)
        }
        if st.st_mode & S_IFMT == S_IFDIR {
            throw LayerError.invalidEntry(path: host, reason: "is a directory; an entry that is not one cannot replace it")
        }
        guard unlink(host) == 0 else { throw failure(host) }
    }

    private func failure(_ host: String, _ what: String? = nil) -> LayerError {
        let reason = String(cString: strerror(errno))
        return .io(path: host, reason: what.map { "\($0): \(reason)" } ?? reason)
    }
}
