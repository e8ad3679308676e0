import Foundation
import SystemSupport
import Glibc

/// The bytes of a download that another program (apt, pip) or a mirror client writes into a
/// directory, counted from outside: while the download runs, the sizes of the matching files
/// under the directory are added up a few times a second and reported as an item's progress.
///
/// apt and pip print no byte counts we could read, but both write into a directory we pick
/// (apt into `partial/` below it, then the final name; pip into its temporary directory, which
/// ``PipResolver`` places below it, then a copy of every file at the end): what the files hold is
/// what has arrived. A file is counted once by its name, at its largest copy, and the item
/// finishes at the locked total once the download succeeded.
struct DownloadWatch {
    /// How often the directory is read.
    static let interval: Duration = .milliseconds(250)

    /// Runs `download` while counting the bytes of the files under `directory` whose names
    /// `counts` accepts, as `item` of `total` bytes. The item finishes at `done` of the result,
    /// or at `total` without it.
    static func run<R: Sendable>(
        _ item: ProgressItem, total: Int64, directory: String, counts: @escaping @Sendable (String) -> Bool = { _ in true },
        sink: ProgressSink, done: (R) -> Int64? = { _ in nil }, _ download: () async throws -> R
    ) async throws -> R {
        let counter = ProgressCounter(item, total: total, sink: sink)
        let watcher = Task.detached {
            while !Task.isCancelled {
                counter.set(done: bytes(under: directory, counts: counts))
                try? await Task.sleep(for: interval)
            }
        }
        defer { watcher.cancel() }
        let result = try await download()
        watcher.cancel()
        _ = await watcher.value
        counter.finish(done: done(result))
        return result
    }

    /// The bytes of the regular files under `directory` (any depth) whose names `counts`
    /// accepts; files of one name (a download and its copy) count once, at the largest.
    static func bytes(under directory: String, counts: (String) -> Bool) -> Int64 {
        guard let walk = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var sizes: [String: Int64] = [:]
        var info = stat()
        while let relative = walk.nextObject() as? String {
            let name = URL(fileURLWithPath: relative).lastPathComponent
            // A file that apt renames or pip removes between the listing and `lstat` is skipped.
            guard counts(name), lstat("\(directory)/\(relative)", &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            sizes[name] = max(sizes[name] ?? 0, Int64(info.st_size))
        }
        return sizes.values.reduce(0, +)
    }
}
