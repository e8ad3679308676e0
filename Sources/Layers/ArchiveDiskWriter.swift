internal import CArchive
import Synchronization

/// Makes libarchive's disk writers one at a time.
///
/// `archive_write_disk_new()` learns the umask the only way POSIX allows — it sets it to 0 and
/// back — so two threads inside it at once can leave the process umask at 0 for good: every
/// file and directory made afterwards by mode-and-umask (and every child process) changes.
/// That once made a build's bytes depend on which tests ran beside it. Every disk writer in
/// imagegen comes from here.
public enum ArchiveDiskWriter {
    private static let lock = Mutex(())

    /// A new `archive_write_disk` handle (free it with `archive_write_free`), or nil when
    /// libarchive is out of memory.
    public static func make() -> OpaquePointer? {
        lock.withLock { _ in archive_write_disk_new() }
    }
}
