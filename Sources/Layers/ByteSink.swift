import OCI

/// Something that takes a stream of bytes.
public protocol ByteSink: AnyObject {
    /// Takes the next bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes whatever is buffered; no writes follow.
    func finish() throws
}

/// A sink that can take a file's content as the deflate stream that holds it, in place of
/// its bytes (a gzip layer that reuses deflate streams).
protocol DeflateStreamSink: ByteSink {
    /// Takes `source` (which inflates to `size` bytes) as it is, or returns false when the
    /// caller should inflate it and write the bytes instead.
    func writeDeflated(_ source: DeflatedSource, size: Int64) throws -> Bool
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

/// Hands bytes on but not the end: several gzip members go into one blob.
final class UnfinishedSink: ByteSink {
    private let next: any ByteSink
    init(next: any ByteSink) { self.next = next }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try next.write(bytes) }
    func finish() throws {}
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

/// Reports how many bytes passed, every MiB and at the end, then hands them on.
final class CountingSink: DeflateStreamSink {
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
        advance(Int64(bytes.count))
    }

    private func advance(_ bytes: Int64) {
        count += bytes
        if count - reported >= 1 << 20 {
            reported = count
            report(count)
        }
    }

    func writeDeflated(_ source: DeflatedSource, size: Int64) throws -> Bool {
        guard let reusing = next as? any DeflateStreamSink, try reusing.writeDeflated(source, size: size) else { return false }
        advance(size)
        return true
    }

    func finish() throws {
        report(count)
        try next.finish()
    }
}
