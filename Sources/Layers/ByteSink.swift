import OCI

/// Something that takes a stream of bytes.
public protocol ByteSink: AnyObject {
    /// Takes the next bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes whatever is buffered; no writes follow.
    func finish() throws
}

/// Hashes and counts what passes through, then hands it on.
final class HashingSink: ByteSink {
    let hasher = DigestHasher(.sha256)
    let next: (any ByteSink)?

    init(next: (any ByteSink)?) { self.next = next }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try next?.write(bytes)
    }

    func finish() throws { try next?.finish() }
}

/// Writes to a file in chunks of at least 1 MiB, so small tar headers cost no system call each.
final class FileSink: ByteSink {
    private let file: AtomicFileWriter
    private var buffer: [UInt8] = []
    private let threshold = 1 << 20

    init(file: AtomicFileWriter) {
        self.file = file
        buffer.reserveCapacity(threshold)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.isEmpty, bytes.count >= threshold {
            try file.write(bytes)
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= threshold {
            try file.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    func finish() throws {
        if !buffer.isEmpty { try file.write(buffer) }
        buffer.removeAll()
    }
}

/// Discards bytes (used when only a digest is wanted).
public final class NullSink: ByteSink {
    /// A sink that keeps nothing.
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
    public func finish() throws {}
}

/// Collects bytes in memory (tests and small documents).
public final class MemorySink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []
    /// An empty sink.
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
    public func finish() throws {}
}

/// Reports how many bytes passed, every 32 MiB, then hands them on.
final class ProgressSink: ByteSink {
    private let next: any ByteSink
    private let report: (Int64) -> Void
    private var count: Int64 = 0
    private var reported: Int64 = 0

    init(next: any ByteSink, report: @escaping (Int64) -> Void) {
        self.next = next
        self.report = report
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try next.write(bytes)
        count += Int64(bytes.count)
        if count - reported >= 32 << 20 {
            reported = count
            report(count)
        }
    }

    func finish() throws {
        report(count)
        try next.finish()
    }
}
