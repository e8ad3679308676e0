import Glibc
import OCI

/// Reads a directory tree into layer entries: every file, directory, symlink, fifo and device
/// below `root`, with hard links inside the tree kept as tar hard links.
public enum DirectoryTree {
    /// Who owns the entries in the layer.
    public enum Ownership: Sendable, Equatable {
        /// uid and gid 0 for every entry (the default: host ids mean nothing in an image).
        case root
        /// The ids the files have on the host.
        case preserve
        /// The same ids for every entry.
        case fixed(uid: UInt32, gid: UInt32)
    }

    /// The entries under `root` (not `root` itself), sorted by path bytes. Sockets are skipped:
    /// they cannot live in a tar.
    public static func entries(root: String, ownership: Ownership = .root, mtime: Int64) throws -> [LayerEntry] {
        var st = stat()
        guard lstat(root, &st) == 0 else { throw LayerError.io(path: root, reason: String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw LayerError.io(path: root, reason: "not a directory") }

        var found: [(path: [UInt8], st: stat)] = []
        var stack: [[UInt8]] = [[]]
        let rootBytes = Array(root.utf8)
        while let relative = stack.popLast() {
            let directory = relative.isEmpty ? rootBytes : rootBytes + [0x2F] + relative
            guard let handle = opendir(String(decoding: directory, as: UTF8.self)) else {
                throw LayerError.io(path: String(decoding: directory, as: UTF8.self), reason: String(cString: strerror(errno)))
            }
            defer { closedir(handle) }
            while let item = readdir(handle) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                    Array(raw.prefix { $0 != 0 })
                }
                if name == [0x2E] || name == [0x2E, 0x2E] { continue }
                let child = relative.isEmpty ? name : relative + [0x2F] + name
                let full = String(decoding: rootBytes + [0x2F] + child, as: UTF8.self)
                var childStat = stat()
                guard lstat(full, &childStat) == 0 else {
                    throw LayerError.io(path: full, reason: String(cString: strerror(errno)))
                }
                let type = childStat.st_mode & S_IFMT
                if type == S_IFSOCK { continue }
                found.append((child, childStat))
                if type == S_IFDIR { stack.append(child) }
            }
        }
        // Byte order, so the result depends on neither the file system's listing order nor locale.
        found.sort { $0.path.lexicographicallyPrecedes($1.path) }

        var firstLink: [InodeKey: String] = [:]
        var entries: [LayerEntry] = []
        entries.reserveCapacity(found.count)
        for (pathBytes, st) in found {
            guard let path = String(validating: pathBytes, as: UTF8.self) else {
                throw LayerError.invalidEntry(
                    path: root + "/" + String(decoding: pathBytes, as: UTF8.self), reason: "file name is not valid UTF-8")
            }
            let full = root + "/" + path
            let (uid, gid): (UInt32, UInt32) = switch ownership {
            case .root: (0, 0)
            case .preserve: (st.st_uid, st.st_gid)
            case .fixed(let u, let g): (u, g)
            }
            let mode = UInt32(st.st_mode) & 0o7777
            var header = TarHeader(path: path, kind: .regular, mode: mode, uid: uid, gid: gid, mtime: mtime)
            var content = LayerEntry.Content.none
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                header.kind = .directory
            case S_IFLNK:
                header.kind = .symlink
                header.linkTarget = try readLink(full, size: Int(st.st_size))
            case S_IFREG:
                let key = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                if st.st_nlink > 1, let first = firstLink[key] {
                    header.kind = .hardlink
                    header.linkTarget = first
                } else {
                    if st.st_nlink > 1 { firstLink[key] = path }
                    header.size = Int64(st.st_size)
                    content = header.size > 0 ? .file(path: full) : .none
                }
            case S_IFIFO:
                header.kind = .fifo
            case S_IFCHR, S_IFBLK:
                header.kind = st.st_mode & S_IFMT == S_IFCHR ? .characterDevice : .blockDevice
                // glibc's dev_t encoding (the major/minor macros are not importable).
                let dev = UInt64(st.st_rdev)
                header.deviceMajor = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF)))
                header.deviceMinor = UInt32(truncatingIfNeeded: (dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF)))
            default:
                continue
            }
            entries.append(LayerEntry(header: header, content: content))
        }
        return entries
    }

    private struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private static func readLink(_ path: String, size: Int) throws -> String {
        var buffer = [UInt8](repeating: 0, count: max(size, 255) + 1)
        let n = buffer.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, $0.count) }
        guard n >= 0 else { throw LayerError.io(path: path, reason: "readlink: \(String(cString: strerror(errno)))") }
        return String(decoding: buffer.prefix(n), as: UTF8.self)
    }
}
