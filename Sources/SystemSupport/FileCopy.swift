internal import CSpawn
import Glibc

/// Copies a range of one file into another at explicit offsets: in the kernel
/// (`copy_file_range`) where the file systems allow it, else through a buffer with `pread` and
/// `pwrite`. Neither descriptor's position moves, so several threads may copy disjoint ranges
/// into one file at once (the image archive's blobs).
public enum FileCopy {
    /// Copies `length` bytes of `source` from `sourceOffset` into `destination` at
    /// `destinationOffset`. `path` names the source in errors; a source shorter than the range
    /// is an error.
    public static func copy(
        from source: Int32, at sourceOffset: Int64, to destination: Int32, at destinationOffset: Int64, length: Int64, path: String
    ) throws(SystemError) {
        var from = sourceOffset
        var to = destinationOffset
        var kernel = true
        while to - destinationOffset < length {
            let left = length - (to - destinationOffset)
            if kernel {
                var inOffset = Int64(from)
                var outOffset = Int64(to)
                let n = cspawn_copy_file_range(source, &inOffset, destination, &outOffset, UInt(min(left, 1 << 30)))
                if n > 0 {
                    from = inOffset
                    to = outOffset
                    continue
                }
                if n < 0, errno == EINTR { continue }
                // Another file system, a kernel or file system without it (some answer 0 rather
                // than an error): copy through a buffer, which also finds a source cut short.
                guard n == 0 || [EXDEV, ENOSYS, EOPNOTSUPP, EINVAL].contains(errno) else {
                    throw .call("copy_file_range", path: path, errno: errno)
                }
                kernel = false
                continue
            }
            try copyBuffered(from: source, at: &from, to: destination, at: &to, length: left, path: path)
        }
    }

    private static func copyBuffered(
        from source: Int32, at from: inout Int64, to destination: Int32, at to: inout Int64, length: Int64, path: String
    ) throws(SystemError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var left = length
        while left > 0 {
            let n = pread(source, buffer.baseAddress, Int(min(left, Int64(buffer.count))), off_t(from))
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .call("pread", path: path, errno: errno) }
            guard n > 0 else { throw .unexpected(path: path, reason: "the file ends \(left) bytes before the range to copy does") }
            var done = 0
            while done < n {
                let w = pwrite(destination, buffer.baseAddress! + done, n - done, off_t(to) + off_t(done))
                if w < 0, errno == EINTR { continue }
                guard w > 0 else { throw .call("pwrite", path: path, errno: w == 0 ? EIO : errno) }
                done += w
            }
            from += Int64(n)
            to += Int64(n)
            left -= Int64(n)
        }
    }
}
