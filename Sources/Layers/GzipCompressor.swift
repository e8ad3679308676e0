internal import CZlib
import Dispatch
import OCI
import Synchronization

/// A deterministic, parallel gzip compressor (RFC 1952).
///
/// The input is cut into fixed 1 MiB blocks. Each block is deflated on its own, primed with the
/// previous 32 KiB of input as dictionary, and ended with a sync flush (the last one with
/// `Z_FINISH`); the raw deflate pieces, concatenated, form one ordinary deflate stream. Block
/// boundaries depend only on the input, so the output is the same whatever the thread count.
/// The header has no name, mtime 0, XFL 0 and OS 255 ("unknown"), so it is the same on every
/// host. Each block's CRC-32 is computed beside its deflate and combined in order (`crc32_combine`).
public final class GzipCompressor: ByteSink {
    /// The block size; part of the output format (changing it changes digests).
    public static let blockSize = 1 << 20
    static let dictionarySize = 32 << 10

    private let level: Int32
    private let output: any ByteSink
    private let limiter: DispatchSemaphore
    private let maxInFlight: Int
    private var block: [UInt8] = []
    private var dictionary: [UInt8] = []
    private var pending: [CompressionJob] = []
    private var crc: UInt = crc32(0, nil, 0)
    private var total: UInt64 = 0
    private var headerWritten = false

    /// A compressor at `level` (1–9) that uses up to `threads` threads and writes to `output`.
    public init(level: Int, threads: Int, output: any ByteSink) {
        self.level = Int32(level)
        self.output = output
        let threads = max(1, threads)
        self.limiter = DispatchSemaphore(value: threads)
        self.maxInFlight = threads * 2
        block.reserveCapacity(Self.blockSize)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        total &+= UInt64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            if block.count == Self.blockSize {
                // More input follows, so this block is not the last.
                try submit(last: false)
            }
            let take = min(Self.blockSize - block.count, bytes.count - offset)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
        }
    }

    public func finish() throws {
        try submit(last: true)
        while !pending.isEmpty { try writeOldest() }
        try Self.trailer(crc: UInt32(truncatingIfNeeded: crc), size: total).withUnsafeBytes { try output.write($0) }
        try output.finish()
    }

    /// The member header: ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (RFC 1952, 2.3).
    static let header: [UInt8] = [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF]

    /// The member trailer: CRC-32 and ISIZE (the size modulo 2^32), little-endian.
    static func trailer(crc: UInt32, size: UInt64) -> [UInt8] {
        var trailer = [UInt8](repeating: 0, count: 8)
        for i in 0..<4 {
            trailer[i] = UInt8(truncatingIfNeeded: crc >> (8 * i))
            trailer[4 + i] = UInt8(truncatingIfNeeded: size >> (8 * i))
        }
        return trailer
    }

    private func submit(last: Bool) throws {
        if !headerWritten {
            try Self.header.withUnsafeBytes { try output.write($0) }
            headerWritten = true
        }
        let job = CompressionJob()
        let input = block
        let dict = dictionary
        let level = self.level
        let limiter = self.limiter
        DispatchQueue.global().async {
            limiter.wait()
            let crc = input.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
            job.crc.withLock { $0 = (crc, input.count) }
            job.result.withLock { $0 = Self.deflateBlock(input, dictionary: dict, level: level, last: last) }
            limiter.signal()
            job.done.signal()
        }
        pending.append(job)
        dictionary = Array(block.suffix(Self.dictionarySize))
        block.removeAll(keepingCapacity: true)
        while pending.count > maxInFlight { try writeOldest() }
    }

    private func writeOldest() throws {
        let job = pending.removeFirst()
        job.done.wait()
        let result = job.result.withLock { $0 } ?? .failure(LayerError.compression(kind: .gzip, reason: "internal: no result"))
        let bytes = try result.get()
        // The CRC-32 of the whole stream, from the blocks' own CRCs, in order.
        let (blockCRC, blockLength) = job.crc.withLock { $0 }
        crc = crc32_combine(crc, blockCRC, off_t(blockLength))
        try bytes.withUnsafeBytes { try output.write($0) }
    }

    /// Raw-deflates one block; the result is byte-aligned (sync flush) or final (`Z_FINISH`).
    static func deflateBlock(_ input: [UInt8], dictionary: [UInt8], level: Int32, last: Bool) -> Result<[UInt8], LayerError> {
        var stream = z_stream()
        guard CZlib_deflateInit2(&stream, level, -15, 8) == Z_OK else {
            return .failure(.compression(kind: .gzip, reason: "deflateInit2 failed"))
        }
        defer { deflateEnd(&stream) }
        if !dictionary.isEmpty {
            let status = dictionary.withUnsafeBufferPointer {
                deflateSetDictionary(&stream, $0.baseAddress, UInt32($0.count))
            }
            guard status == Z_OK else { return .failure(.compression(kind: .gzip, reason: "deflateSetDictionary failed")) }
        }
        // deflateBound covers Z_FINISH; a sync flush adds at most a few bytes more.
        let capacity = Int(deflateBound(&stream, UInt(input.count))) + 64
        var status: Int32 = Z_OK
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { outBuf, written in
            input.withUnsafeBufferPointer { inBuf in
                // zlib never writes through next_in; the type is merely not const.
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                status = deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
            }
            written = capacity - Int(stream.avail_out)
        }
        let expected = last ? Z_STREAM_END : Z_OK
        guard status == expected, stream.avail_in == 0 else {
            return .failure(.compression(kind: .gzip, reason: "deflate returned \(status)"))
        }
        return .success(out)
    }
}

/// One block in flight: its result is published under a lock and announced by a semaphore.
private final class CompressionJob: Sendable {
    let result = Mutex<Result<[UInt8], LayerError>?>(nil)
    let crc = Mutex<(UInt, Int)>((0, 0))
    let done = DispatchSemaphore(value: 0)
}
