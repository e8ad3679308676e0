import Glibc
import Foundation

/// A file opened for reading by POSIX descriptor: sequential or positioned reads into one
/// reusable buffer, so streaming a multi-GB file allocates nothing per chunk.
public final class FileReader {
    private let fd: Int32
    /// The path, for messages.
    public let path: String

    /// Opens `path` for reading.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIError.io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// The file's size.
    public func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OCIError.io(path: path, reason: "cannot stat") }
        return Int64(st.st_size)
    }

    /// Reads up to `buffer.count` bytes at the current position (or at `offset`); 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil) throws -> Int {
        while true {
            let n = offset.map { pread(fd, buffer.baseAddress, buffer.count, off_t($0)) }
                ?? Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw OCIError.io(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Streams `length` bytes from `offset` (or everything from the current position) to `body`.
    public func stream(
        from offset: Int64? = nil, length: Int64? = nil, chunkSize: Int = 1 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        try readSpan(from: offset, length: length, chunkSize: chunkSize) { want, position in
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: position)
            if n > 0 { try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            return n
        }
    }

    /// ``stream(from:length:chunkSize:_:)`` with each chunk read into an array of its own, for
    /// a consumer that hands chunks to other threads without copying them.
    public func streamChunks(
        from offset: Int64? = nil, length: Int64? = nil, chunkSize: Int = 1 << 20, _ body: ([UInt8]) throws -> Void
    ) throws {
        try readSpan(from: offset, length: length, chunkSize: chunkSize) { want, position in
            let chunk = try [UInt8](unsafeUninitializedCapacity: want) { buffer, count in
                count = try read(into: UnsafeMutableRawBufferPointer(buffer), at: position)
            }
            if !chunk.isEmpty { try body(chunk) }
            return chunk.count
        }
    }

    /// The loop of both streams: `next(want, position)` reads up to `want` bytes at `position`
    /// (at the current position when nil), hands them on and says how many it read; 0 is the
    /// end of the file, which comes too early when a `length` was asked for.
    private func readSpan(from offset: Int64?, length: Int64?, chunkSize: Int, _ next: (Int, Int64?) throws -> Int) throws {
        var position = offset
        var left = length ?? Int64.max
        while left > 0 {
            let n = try next(Int(min(Int64(chunkSize), left)), position)
            if n == 0 {
                if length != nil { throw OCIError.io(path: path, reason: "unexpected end of file") }
                return
            }
            left -= Int64(n)
            position = position.map { $0 + Int64(n) }
        }
    }

    /// Reads the whole file, refusing files larger than `limit`.
    public static func readAll(path: String, limit: Int) throws -> [UInt8] {
        let reader = try FileReader(path: path)
        let size = try reader.size()
        guard size <= Int64(limit) else {
            throw OCIError.io(path: path, reason: "\(size) bytes is over the \(limit)-byte limit for a document")
        }
        var out = [UInt8]()
        out.reserveCapacity(Int(size))
        try reader.stream { out += $0 }
        return out
    }
}

/// A file written to a temporary name beside its destination and renamed into place by
/// `commit()`; dropped without `commit()`, it removes the temporary file. Nothing half-written
/// ever carries the final name.
public final class AtomicFileWriter {
    private var fd: Int32
    /// The final path.
    public let path: String
    /// The temporary path while writing.
    public let temporaryPath: String
    private var committed = false

    /// Creates the temporary file for `path`.
    public init(path: String, mode: mode_t = 0o644) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw OCIError.io(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        // The umask must not change what we write: set the mode explicitly.
        fchmod(fd, mode)
        self.fd = fd
        self.temporaryPath = temporary
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// The open temporary file, for copies at explicit offsets (``FileCopy``) from several
    /// threads; valid until `commit()`.
    public var descriptor: Int32 { fd }

    /// Sets the file's length: bytes never written past the end read as zeros.
    public func setLength(_ length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw OCIError.io(path: path, reason: "ftruncate failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Closes the file and renames it into place (at `destination` when given: a blob whose
    /// name is its digest, known only once it is written).
    public func commit(as destination: String? = nil) throws {
        let target = destination ?? path
        if fd >= 0 {
            guard close(fd) == 0 else { throw OCIError.io(path: target, reason: "close failed: \(String(cString: strerror(errno)))") }
            fd = -1
        }
        guard rename(temporaryPath, target) == 0 else {
            throw OCIError.io(path: target, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
        }
        committed = true
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(bytes)
        try writer.commit()
    }
}
