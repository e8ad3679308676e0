import Foundation
import Glibc

/// An advisory lock on a file (flock(2)), held across processes.
///
/// Waiting polls instead of blocking, so a waiting resolver does not hold a thread of the
/// cooperative pool and can be cancelled.
final class FileLock: Sendable {
    private let descriptor: Int32
    private let path: String

    /// Opens (creating it if needed) the lock file at `path`.
    init(path: String) throws {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ArtifactsError.io(path: path, reason: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }

    /// Waits until the lock is held.
    func acquire() async throws {
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw ArtifactsError.io(path: path, reason: "cannot lock: \(String(cString: strerror(errno)))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Lets the lock go.
    func release() { _ = flock(descriptor, LOCK_UN) }
}
