import OCI
import Synchronization
import SystemSupport

/// A file's content held as a raw deflate stream (RFC 1951) inside another file — a deflated
/// zip member, typically a wheel's — with the CRC-32 its zip directory declares. The entry's
/// `header.size` is the uncompressed size.
///
/// A gzip layer can carry the stream as it is, as one gzip member of its own (RFC 1952 allows
/// several members back to back); every other consumer inflates it. Either way the stream is
/// inflated once and its CRC-32 and size are checked against the directory's.
public struct DeflatedSource: Hashable, Sendable {
    /// The file that holds the stream (the zip).
    public var path: String
    /// Where the stream starts in it.
    public var offset: Int64
    /// The stream's length.
    public var compressedSize: Int64
    /// The CRC-32 of the uncompressed bytes, as the zip directory declares it.
    public var crc32: UInt32
    /// What the stream is, for messages: "WHEEL: MEMBER".
    public var origin: String
    /// The SHA-256 the inflated bytes must have (a wheel's `RECORD` row), checked wherever the
    /// stream is inflated; nil to check the CRC-32 alone.
    public var sha256: Digest?

    /// A stream of `compressedSize` bytes at `offset` in `path`.
    public init(path: String, offset: Int64, compressedSize: Int64, crc32: UInt32, origin: String, sha256: Digest? = nil) {
        self.path = path
        self.offset = offset
        self.compressedSize = compressedSize
        self.crc32 = crc32
        self.origin = origin
        self.sha256 = sha256
    }

    /// Inflates the stream, handing each compressed chunk to `raw` (as it is read) and each
    /// inflated chunk to `output`; checks that the stream ends exactly at `compressedSize`,
    /// inflates to `size` bytes and has the declared CRC-32 and, when it has one, SHA-256.
    /// Returns the inflated size.
    @discardableResult
    func inflate(
        size: Int64, raw: ((UnsafeRawBufferPointer) throws -> Void)? = nil, output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        let record = recordHasher()
        let produced = try inflateChecked(size: size, raw: raw) { bytes in
            record?.update(bytes)
            try output(bytes)
        }
        try checkRecord(record)
        return produced
    }

    /// The stream's `size` inflated bytes, checked as ``inflate(size:raw:output:)`` checks them
    /// (length, CRC-32, and the SHA-256 when it has one): for a reader that needs a small
    /// member's content in memory, such as the byte-compiler reading a wheel's `.py` files.
    public func inflatedBytes(size: Int64) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clamping: size))
        try inflate(size: size) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// `inflate(size:raw:output:)` in three stages: reading and inflating (and the CRC-32,
    /// which ISA-L computes as it writes) on one thread, the SHA-256 of `RECORD` on a second,
    /// and the callbacks (the diff_id's hash, the blob) on this one; on two cores the kernel
    /// shares the three about evenly. At most 16 chunks of 256 KiB wait before each consumer,
    /// and a chunk is one array both read.
    @discardableResult
    func inflatePipelined(
        size: Int64, raw: (UnsafeRawBufferPointer) throws -> Void, output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        let queue = BoundedQueue<InflatedChunk>(capacity: 16)
        let recordQueue = sha256 == nil ? nil : BoundedQueue<[UInt8]?>(capacity: 16)
        let recordDigest = Mutex<Digest?>(nil)
        let source = self
        var stages: [@Sendable () -> Void] = [{
            let outcome = Result<Int64, any Error> {
                try source.inflateChecked(size: size, raw: { queue.put(.raw([UInt8]($0))) }) {
                    let chunk = [UInt8]($0)
                    recordQueue?.put(chunk)
                    queue.put(.data(chunk))
                }
            }
            // Both consumers always get their end, so neither is left waiting, nor the producer.
            recordQueue?.put(nil)
            queue.put(.end(outcome))
        }]
        if let recordQueue, let algorithm = sha256?.algorithm {
            stages.append {
                let hasher = DigestHasher(algorithm)
                while let chunk = recordQueue.take() { chunk.withUnsafeBytes { hasher.update($0) } }
                recordDigest.withLock { $0 = hasher.finalize() }
            }
        }
        let produced = try Parallel.pipeline(stages) {
            var failure: (any Error)?
            while true {
                switch queue.take() {
                case .raw(let bytes):
                    if failure == nil { do { try bytes.withUnsafeBytes { try raw($0) } } catch { failure = error } }
                case .data(let bytes):
                    guard failure == nil else { continue }
                    do { try bytes.withUnsafeBytes { try output($0) } } catch { failure = error }
                case .end(let outcome):
                    if let failure { throw failure }
                    return try outcome.get()
                }
            }
        }
        // Every stage has finished once `pipeline` returns.
        try checkRecord(recordDigest.withLock { $0 })
        return produced
    }

    private func recordHasher() -> DigestHasher? { sha256.map { DigestHasher($0.algorithm) } }

    /// Checks the inflated bytes' hash against `RECORD`'s.
    private func checkRecord(_ hasher: DigestHasher?) throws { try checkRecord(hasher?.finalize()) }

    private func checkRecord(_ actual: Digest?) throws {
        guard let actual, let sha256 else { return }
        guard actual == sha256 else {
            throw LayerError.invalidEntry(path: origin, reason: "inflates to \(actual), but its RECORD declares \(sha256)")
        }
    }

    /// Inflates the stream, checking that it ends exactly at `compressedSize`, inflates to
    /// `size` bytes and has the declared CRC-32 (not the SHA-256: callers hash where it suits them).
    private func inflateChecked(
        size: Int64, raw: ((UnsafeRawBufferPointer) throws -> Void)?, output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        func fail(_ reason: String) -> LayerError { .invalidEntry(path: origin, reason: reason) }
        let reader: FileReader
        do { reader = try FileReader(path: path) } catch { throw LayerError.io(path: path, reason: "\(error)") }
        let inflater = try Inflater(.raw)
        let chunk = 1 << 18
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer {
            input.deallocate()
            out.deallocate()
        }
        var produced: Int64 = 0
        var consumed: Int64 = 0
        var ended = false
        while !ended {
            guard consumed < compressedSize else {
                throw fail("the deflate stream is cut short: it does not end within its \(compressedSize) compressed bytes")
            }
            let want = Int(min(Int64(chunk), compressedSize - consumed))
            let n = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<want]), at: offset + consumed)
            guard n > 0 else { throw LayerError.io(path: path, reason: "unexpected end of file in '\(origin)'") }
            consumed += Int64(n)
            try raw?(UnsafeRawBufferPointer(rebasing: input[0..<n]))
            var used = 0
            // Go on while input remains, or while the last call filled the output (the library
            // may hold more output for the same input).
            while !ended {
                let step: Inflater.Step
                do {
                    step = try inflater.step(UnsafeRawBufferPointer(rebasing: input[used..<n]), into: out)
                } catch {
                    throw fail("not a valid deflate stream: \(error.reason)")
                }
                used += step.consumed
                ended = step.ended
                if step.produced > 0 {
                    produced += Int64(step.produced)
                    guard produced <= size else { throw fail("inflates to more than the \(size) bytes its zip directory declares") }
                    try output(UnsafeRawBufferPointer(rebasing: out[0..<step.produced]))
                }
                if step.consumed == 0, step.produced == 0, !ended { break }
                if used == n, step.produced < out.count { break }
            }
        }
        // Bytes after the end would follow the stream into a gzip member and confuse its readers.
        guard inflater.streamLength == compressedSize else {
            throw fail("the deflate stream ends \(compressedSize - inflater.streamLength) bytes before its declared compressed size")
        }
        guard produced == size else { throw fail("inflates to \(produced) bytes, but its zip directory declares \(size)") }
        guard inflater.crc32 == crc32 else { throw crcMismatch(inflater.crc32) }
        return produced
    }

    private func crcMismatch(_ actual: UInt32) -> LayerError {
        .invalidEntry(path: origin, reason: "CRC-32 \(hex(actual)) does not match the \(hex(crc32)) its zip directory declares")
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// What the inflating thread hands to the hashing one.
private enum InflatedChunk: Sendable {
    case raw([UInt8])
    case data([UInt8])
    case end(Result<Int64, any Error>)
}
