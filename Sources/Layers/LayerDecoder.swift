internal import CZstd
import OCI

/// Decompresses a layer blob as it streams in: gzip (every member of a multi-member file, as
/// container runtimes read them), zstd (every frame), or nothing.
public final class LayerDecoder {
    private let kind: LayerCompressionKind
    private let output: (UnsafeRawBufferPointer) throws -> Void
    /// Set by ``init(kind:chunks:)``: inflated bytes go out as arrays they were inflated into.
    private let chunks: (([UInt8]) throws -> Void)?
    private var inflater: Inflater?
    private var zstd: OpaquePointer?
    private var buffer = [UInt8](repeating: 0, count: 1 << 18)
    private var inMember = false
    private var zstdFrameOpen = false
    private var sawInput = false
    /// gzip members that ended so far.
    private var membersEnded = 0
    /// Set once bytes that are not a gzip member followed the last one (see `ignoresTrailingBytes`).
    private var inTrailingBytes = false
    /// A 1f that ended the last input after a member: the next byte says whether a member starts.
    private var heldMagic = false

    /// Whether bytes after the last gzip member that do not start another one (1f 8b) are
    /// ignored, as zlib's `gzread` — and so dpkg — ignores them; otherwise (layers, as container
    /// runtimes read them) they are an error.
    public var ignoresTrailingBytes = false

    /// A decoder that hands the uncompressed bytes to `output`.
    public convenience init(kind: LayerCompressionKind, output: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        try self.init(kind: kind, output: output, chunks: nil)
    }

    /// The most bytes of one array ``init(kind:chunks:)`` hands over.
    static let chunkSize = 1 << 20

    /// A decoder that hands the uncompressed bytes to `chunks` as arrays of up to 1 MiB; gzip
    /// is inflated straight into them, so a consumer on another thread gets them uncopied.
    public convenience init(kind: LayerCompressionKind, chunks: @escaping ([UInt8]) throws -> Void) throws {
        try self.init(kind: kind, output: { try chunks([UInt8]($0)) }, chunks: chunks)
    }

    private init(
        kind: LayerCompressionKind, output: @escaping (UnsafeRawBufferPointer) throws -> Void, chunks: (([UInt8]) throws -> Void)?
    ) throws {
        self.kind = kind
        self.output = output
        self.chunks = chunks
        switch kind {
        case .gzip:
            inflater = try Inflater(.gzip)
        case .zstd:
            zstd = ZSTD_createDCtx()
            guard zstd != nil else { throw LayerError.compression(kind: .zstd, reason: "ZSTD_createDCtx failed") }
        case .none:
            break
        }
    }

    deinit {
        if let zstd { ZSTD_freeDCtx(zstd) }
    }

    /// Feeds the next compressed bytes.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        sawInput = true
        switch kind {
        case .none:
            try output(bytes)
        case .gzip:
            try inflate(bytes)
        case .zstd:
            try decompressZstd(bytes)
        }
    }

    /// Checks that the stream ended at a member or frame boundary.
    public func finish() throws {
        switch kind {
        case .gzip where inMember || !sawInput:
            throw LayerError.compression(kind: .gzip, reason: "unexpected end of stream (truncated)")
        case .zstd where zstdFrameOpen || !sawInput:
            throw LayerError.compression(kind: .zstd, reason: "unexpected end of stream (truncated)")
        default:
            return
        }
    }

    private func inflate(_ bytes: UnsafeRawBufferPointer) throws {
        guard let inflater else { return }
        if heldMagic, !bytes.isEmpty {
            heldMagic = false
            try [0x1F, bytes[0]].withUnsafeBytes { try inflate($0) }
            try inflate(UnsafeRawBufferPointer(rebasing: bytes[1...]))
            return
        }
        var offset = 0
        // Go on while input remains, or while the last call filled the output buffer (the
        // library may hold more output for the same input).
        var outputWasFull = false
        while offset < bytes.count || (outputWasFull && inMember) {
            if !inMember, ignoresTrailingBytes, membersEnded > 0 {
                if inTrailingBytes || bytes[offset] != 0x1F || (offset + 1 < bytes.count && bytes[offset + 1] != 0x8B) {
                    inTrailingBytes = true
                    return
                }
                if offset + 1 == bytes.count {
                    heldMagic = true  // a member's magic, or one stray byte (ignored at the end, as gzread ignores it)
                    return
                }
            }
            if !inMember {
                inflater.reset()
                inMember = true
            }
            let input = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            var step = Inflater.Step(consumed: 0, produced: 0, ended: false)
            do {
                if let chunks {
                    let chunk = try [UInt8](unsafeUninitializedCapacity: Self.chunkSize) { out, count in
                        step = try inflater.step(input, into: UnsafeMutableRawBufferPointer(out))
                        count = step.produced
                    }
                    if step.produced > 0 { try chunks(chunk) }
                } else {
                    step = try buffer.withUnsafeMutableBytes { try inflater.step(input, into: $0) }
                    if step.produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<step.produced])) } }
                }
            } catch let error as InflateFailure {
                throw LayerError.compression(kind: .gzip, reason: error.reason)
            }
            offset += step.consumed
            outputWasFull = step.produced == (chunks == nil ? buffer.count : Self.chunkSize)
            if step.ended {
                membersEnded += 1
                inMember = false
                outputWasFull = false
            } else if step.consumed == 0, step.produced == 0 {
                return  // needs more input (`step` fails a stream stuck with input left)
            }
        }
    }

    private func decompressZstd(_ bytes: UnsafeRawBufferPointer) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        var outputWasFull = false
        while input.pos < input.size || outputWasFull {
            let (code, produced) = buffer.withUnsafeMutableBytes { out -> (Int, Int) in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let code = ZSTD_decompressStream(zstd, &outBuffer, &input)
                return (code, outBuffer.pos)
            }
            if ZSTD_isError(code) != 0 {
                throw LayerError.compression(kind: .zstd, reason: String(cString: ZSTD_getErrorName(code)))
            }
            zstdFrameOpen = code != 0
            outputWasFull = produced == buffer.count
            if produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
        }
    }
}
