import Foundation
import OCI
import Glibc

/// A content-addressed store of artifacts (`.deb` files, wheels): each file is named by its
/// digest, `DIRECTORY/sha256/<hex>`. The caller picks the directory
/// (`$XDG_CACHE_HOME/imagegen/artifacts` by default).
///
/// Only `store(temporaryFile:sha256:size:)` makes an entry, and only after it has hashed the
/// file and found the digest and size the lock names; the file then reaches its final name by
/// one `rename(2)`. So a partial download or a wrong file never carries an entry's name, and
/// processes sharing a directory never see half an entry: temporary files live in
/// `DIRECTORY/tmp/` under unique names, and two processes storing one artifact each rename a
/// complete, verified copy into place.
///
/// An entry is checked again each time it is asked for, so a file changed after it was cached
/// is found on the next build, removed and fetched again. Hashing a multi-GB wheel on every
/// build would cost seconds, so a marker under `DIRECTORY/verified/` records the entry's file
/// identity (device, inode, size, modification and change times, nanoseconds) when it was last
/// hashed: while the entry still has that identity, it is trusted without hashing. Writing a
/// file changes its change time, which no user can set back (`utimensat(2)` sets only access
/// and modification times). Timestamps only move once per kernel clock tick, so a marker
/// written in the same tick as the entry last changed is not trusted (git's "racy clean" rule)
/// and the entry is hashed again.
public struct ArtifactCache: Sendable {
    /// The cache's root directory.
    public let directory: String

    /// Temporary files and directories older than this are left over from a killed process.
    static let staleAge: TimeInterval = 24 * 3600

    /// Opens (creating it if needed) the cache at `directory`, and removes temporary files
    /// left behind by processes killed over a day ago.
    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        for sub in ["tmp", "verified"] + Digest.Algorithm.allCases.map(\.rawValue) {
            do {
                try fm.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
            } catch {
                throw ArtifactsError.io(path: "\(directory)/\(sub)", reason: error.localizedDescription)
            }
        }
        let cutoff = Date().addingTimeInterval(-Self.staleAge)
        for name in (try? fm.contentsOfDirectory(atPath: "\(directory)/tmp")) ?? [] {
            let path = "\(directory)/tmp/\(name)"
            if let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff {
                try? fm.removeItem(atPath: path)
            }
        }
    }

    /// Where the entry for `digest` lives (whether or not it is there).
    public func entryPath(for digest: Digest) -> String {
        "\(directory)/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    /// The cached file for `sha256`, when it is there and its size and digest still match;
    /// `nil` otherwise. An entry that no longer matches (changed after it was cached) is
    /// removed, so that it is fetched again.
    public func path(for sha256: Digest, size: Int64) throws -> String? {
        let entry = entryPath(for: sha256)
        guard let identity = try FileIdentity(path: entry) else { return nil }
        guard identity.isRegularFile, identity.size == size else {
            removeEntry(sha256, ifStill: identity)
            return nil
        }
        if isVerified(sha256, identity: identity) { return entry }

        let (actual, count) = try Self.hash(file: entry, algorithm: sha256.algorithm)
        guard actual == sha256, count == size else {
            removeEntry(sha256, ifStill: identity)
            return nil
        }
        // Changed while it was read: what was hashed may not be what is there now.
        guard try FileIdentity(path: entry) == identity else { return nil }
        markVerified(sha256, identity: identity)
        return entry
    }

    /// Makes `temporaryFile` the entry for `sha256`: hashes it (streaming), and when its digest
    /// and size are the ones given, renames it into place; returns the entry's path.
    ///
    /// The temporary file is gone afterwards, whether it was stored or refused. A file on
    /// another file system is copied into `tmp/` first, hashed on the way.
    /// - Throws: `ArtifactsError.digestMismatch` naming the file, the expected and the actual
    ///   digest, when the bytes are not the ones given; nothing is cached then.
    @discardableResult
    public func store(temporaryFile: String, sha256: Digest, size: Int64) throws -> String {
        let fm = FileManager.default
        let entry = entryPath(for: sha256)
        defer { try? fm.removeItem(atPath: temporaryFile) }

        let tmp = "\(directory)/tmp"
        guard let source = try FileIdentity(path: temporaryFile), source.isRegularFile else {
            throw ArtifactsError.io(path: temporaryFile, reason: "no such file to cache")
        }
        guard let tmpIdentity = try FileIdentity(path: tmp) else {
            throw ArtifactsError.io(path: tmp, reason: "the cache's temporary directory is gone")
        }
        let fileName = URL(fileURLWithPath: temporaryFile).lastPathComponent

        if source.device == tmpIdentity.device {
            let (actual, count) = try Self.hash(file: temporaryFile, algorithm: sha256.algorithm)
            try Self.check(fileName: fileName, expected: sha256, size: size, actual: actual, count: count)
            if try path(for: sha256, size: size) != nil { return entry }
            // Entries are read-only: nothing should write to them in place.
            guard chmod(temporaryFile, 0o444) == 0, rename(temporaryFile, entry) == 0 else {
                throw ArtifactsError.io(path: entry, reason: "cannot move into the cache: \(String(cString: strerror(errno)))")
            }
        } else {
            let writer: AtomicFileWriter
            let actual: Digest
            let count: Int64
            do {
                writer = try AtomicFileWriter(path: "\(tmp)/\(Self.uniqueName(fileName))", mode: 0o444)
                (actual, count) = try Self.hash(file: temporaryFile, algorithm: sha256.algorithm) { try writer.write($0) }
            } catch let error as OCIError {
                throw ArtifactsError.io(path: temporaryFile, reason: error.description)
            }
            try Self.check(fileName: fileName, expected: sha256, size: size, actual: actual, count: count)
            if try path(for: sha256, size: size) != nil { return entry }
            do {
                try writer.commit(as: entry)
            } catch let error as OCIError {
                throw ArtifactsError.io(path: entry, reason: error.description)
            }
        }
        if let stored = try FileIdentity(path: entry) { markVerified(sha256, identity: stored) }
        return entry
    }

    /// A new, empty directory under `tmp/` for a download (`label` starts its name); the
    /// caller removes it.
    public func makeTemporaryDirectory(_ label: String) throws -> String {
        let path = "\(directory)/tmp/\(Self.uniqueName(label))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw ArtifactsError.io(path: path, reason: error.localizedDescription)
        }
        return path
    }

    // MARK: - Verification markers

    private func markerPath(for digest: Digest) -> String {
        "\(directory)/verified/\(digest.algorithm.rawValue)-\(digest.encoded)"
    }

    /// Whether the marker records this identity and was written after the entry last changed
    /// (in a later clock tick).
    private func isVerified(_ digest: Digest, identity: FileIdentity) -> Bool {
        let marker = markerPath(for: digest)
        guard let recorded = try? String(contentsOfFile: marker, encoding: .utf8),
              recorded == identity.marker,
              let markerIdentity = try? FileIdentity(path: marker)
        else { return false }
        return identity.changed < markerIdentity.modified
    }

    /// Records that the entry with `identity` was hashed and matched. Best effort: without a
    /// marker the entry is hashed again next time, nothing worse.
    private func markVerified(_ digest: Digest, identity: FileIdentity) {
        try? AtomicFileWriter.write(Array(identity.marker.utf8), to: markerPath(for: digest))
    }

    /// Removes an entry that failed its check, unless another process has replaced it since
    /// (it then holds a different inode).
    private func removeEntry(_ digest: Digest, ifStill identity: FileIdentity) {
        let entry = entryPath(for: digest)
        unlink(markerPath(for: digest))
        guard let now = try? FileIdentity(path: entry), now.device == identity.device, now.inode == identity.inode else {
            return
        }
        if now.isDirectory {
            try? FileManager.default.removeItem(atPath: entry)
        } else {
            unlink(entry)
        }
    }

    // MARK: - Hashing

    /// Refuses bytes that are not the ones expected.
    private static func check(fileName: String, expected: Digest, size: Int64, actual: Digest, count: Int64) throws {
        guard actual == expected, count == size else {
            throw ArtifactsError.digestMismatch(
                file: fileName, expected: expected, actual: actual, expectedSize: size, actualSize: count)
        }
    }

    /// The digest and length of a file, read in chunks (each also handed to `copy`).
    static func hash(
        file path: String, algorithm: Digest.Algorithm, copy: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> (Digest, Int64) {
        let hasher = DigestHasher(algorithm)
        do {
            try FileReader(path: path).stream { chunk in
                hasher.update(chunk)
                try copy?(chunk)
            }
            return (hasher.finalize(), hasher.count)
        } catch let error as OCIError {
            throw ArtifactsError.io(path: path, reason: error.description)
        }
    }

    /// `LABEL-PID-UUID`: unique across processes and tasks.
    static func uniqueName(_ label: String) -> String {
        "\(label)-\(getpid())-\(UUID().uuidString)"
    }
}

/// What identifies a file's current contents without reading them: `stat(2)`'s device, inode,
/// type, size, and modification and change times to the nanosecond.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var mode: UInt32
    var size: Int64
    var modified: Timestamp
    var changed: Timestamp

    /// Seconds and nanoseconds, ordered.
    struct Timestamp: Comparable, Sendable {
        var seconds: Int
        var nanoseconds: Int

        init(_ time: timespec) {
            seconds = Int(time.tv_sec)
            nanoseconds = Int(time.tv_nsec)
        }

        static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }
    }

    var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }

    /// The marker's text: everything that changes when the file is replaced or written.
    var marker: String {
        "device=\(device) inode=\(inode) size=\(size) mtime=\(modified.seconds).\(modified.nanoseconds) "
            + "ctime=\(changed.seconds).\(changed.nanoseconds)\n"
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        mode = UInt32(st.st_mode)
        size = Int64(st.st_size)
        modified = Timestamp(st.st_mtim)
        changed = Timestamp(st.st_ctim)
    }

    /// The identity of the file at `path` (not following a symbolic link), `nil` when there
    /// is none.
    init?(path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ArtifactsError.io(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        self.init(st)
    }
}
