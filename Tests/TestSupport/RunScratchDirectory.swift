import Foundation
import Glibc
import Synchronization

/// Directories that live as long as the test process: for fixtures that a suite makes once
/// and shares between its tests (a `static let`, which is never dropped). They are removed
/// when the process exits normally.
private let runScratchPaths = Mutex<[String]>([])

/// A new, empty directory under the system's temporary directory, removed when the test
/// process exits (`atexit`), for a fixture shared by the tests of one run.
public func runScratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "/\(name)-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let first = runScratchPaths.withLock { paths in
        paths.append(path)
        return paths.count == 1
    }
    if first {
        atexit {
            for path in runScratchPaths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
    }
    return path
}
