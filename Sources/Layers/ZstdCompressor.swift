internal import CZstd
import OCI

/// A zstd compressor (RFC 8878) with a content checksum, using zstd's own worker threads.
///
/// zstd always runs in its multi-threaded mode here (at least one worker), whose output does
/// not depend on the number of workers; single-threaded mode would give other bytes.
public final class ZstdCompressor: ByteSink {
    /// The most zstd workers one layer uses.
    public static let maxWorkers = 4

    private let context: OpaquePointer
    private let output: any ByteSink
    private var outBuffer: [UInt8]

    /// A compressor at `level` using `threads` workers, writing to `output`.
    public init(level: Int, threads: Int, output: any ByteSink) throws {
        guard let context = ZSTD_createCCtx() else {
            throw LayerError.compression(kind: .zstd, reason: "ZSTD_createCCtx failed")
        }
        self.context = context
        self.output = output
        self.outBuffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        // Each worker holds a job's buffers (~50 MiB at level 3): 4 workers keep a pack under
        // 256 MiB whatever the core count (benchmarks/memory: 444 MiB at 16).
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(min(max(1, threads), Self.maxWorkers))))
    }

    deinit { ZSTD_freeCCtx(context) }

    private func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 {
            throw LayerError.compression(kind: .zstd, reason: String(cString: ZSTD_getErrorName(code)))
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try step(&input, ZSTD_e_continue)
        }
    }

    public func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        try output.finish()
    }

    private func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        let (remaining, produced) = try outBuffer.withUnsafeMutableBytes { out -> (Int, Int) in
            var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let code = ZSTD_compressStream2(context, &buffer, &input, directive)
            try check(code)
            return (code, buffer.pos)
        }
        if produced > 0 {
            try outBuffer.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
        }
        return remaining
    }
}
