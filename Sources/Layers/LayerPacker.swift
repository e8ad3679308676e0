import OCI

/// How to compress a layer.
public struct Compression: Hashable, Sendable, CustomStringConvertible {
    /// The algorithm.
    public var kind: LayerCompressionKind
    /// The level (gzip 1–9, zstd 1–19); ignored for `none`.
    public var level: Int

    /// A compression setting; the level is checked against the algorithm's range.
    public init(_ kind: LayerCompressionKind, level: Int? = nil) throws {
        self.kind = kind
        switch kind {
        case .none: self.level = 0
        case .gzip: self.level = level ?? 6
        case .zstd: self.level = level ?? 3
        }
        let range = kind == .gzip ? 1...9 : kind == .zstd ? 1...19 : 0...0
        guard kind == .none || range.contains(self.level) else {
            throw LayerError.compression(kind: kind, reason: "level \(self.level) is outside \(range.lowerBound)–\(range.upperBound)")
        }
    }

    /// gzip level 6.
    public static let gzip = try! Compression(.gzip)  // constant input: cannot fail
    /// zstd level 3.
    public static let zstd = try! Compression(.zstd)  // constant input: cannot fail
    /// No compression.
    public static let none = try! Compression(.none)  // constant input: cannot fail

    public var description: String { kind == .none ? "none" : "\(kind.rawValue)-\(level)" }
}

/// A layer written to a blob: what the manifest and the config need to know about it.
public struct PackedLayer: Hashable, Sendable {
    /// The blob's descriptor (compressed digest and size, layer media type).
    public var descriptor: Descriptor
    /// The digest of the uncompressed tar (`rootfs.diff_ids`).
    public var diffID: Digest
    /// The size of the uncompressed tar.
    public var uncompressedSize: Int64
    /// How many entries the tar holds.
    public var entryCount: Int

    /// A layer's description (as recorded in a layer cache, say).
    public init(descriptor: Descriptor, diffID: Digest, uncompressedSize: Int64, entryCount: Int) {
        self.descriptor = descriptor
        self.diffID = diffID
        self.uncompressedSize = uncompressedSize
        self.entryCount = entryCount
    }
}

/// Packs entries into a layer blob in one streaming pass: tar → diff_id hash → compressor →
/// blob hash → file. Memory is bounded by the compressor's blocks in flight, whatever the
/// layer's size.
public enum LayerPacker {
    /// Names the rule that decides which deflate streams a gzip layer carries as they are; part
    /// of layer cache keys, so a new rule re-packs the layers it changes.
    public static let reuseRule = "deflate-min-\(ReusingGzipSink.minimumReusedSize)"

    /// Writes `entries` as a layer blob into `layout` and returns its description.
    ///
    /// With `reuseDeflateStreams` (the default), a gzip layer carries the deflate streams of
    /// entries with `.deflated` content as they are (`ReusingGzipSink`); without it, or for
    /// zstd and uncompressed layers, they are inflated and compressed like any other bytes.
    /// Both give the same tar, so the same diff_id.
    ///
    /// `progress`, when given, gets the bytes of tar written so far, every MiB and at the end:
    /// of ``LayerWriter/size(of:)`` of the entries.
    public static func pack(
        _ entries: [LayerEntry], into layout: LayoutWriter, compression: Compression, threads: Int,
        reuseDeflateStreams: Bool = true, progress: ((Int64) -> Void)? = nil
    ) throws -> PackedLayer {
        let file = try layout.temporaryBlob()
        let blob = HashingSink(next: FileSink(file: file))
        if compression.kind == .gzip, reuseDeflateStreams, entries.contains(where: { if case .deflated = $0.content { true } else { false } }) {
            let tar = ReusingGzipSink(level: compression.level, threads: threads, blob: blob)
            // The counting sink finishes the one it wraps, after its last report.
            let sink: any ByteSink = progress.map { CountingSink(next: tar, report: $0) } ?? tar
            let count = try LayerWriter.write(entries, to: sink)
            try sink.finish()
            let digest = blob.hasher.finalize()
            try layout.adopt(file, digest: digest)
            return PackedLayer(
                descriptor: Descriptor(mediaType: compression.kind.mediaType, digest: digest, size: blob.hasher.count),
                diffID: tar.tar.finalize(), uncompressedSize: tar.tar.count, entryCount: count)
        }
        let compressor: any ByteSink = switch compression.kind {
        case .none: blob
        case .gzip: GzipCompressor(level: compression.level, threads: threads, output: blob)
        case .zstd: try ZstdCompressor(level: compression.level, threads: threads, output: blob)
        }
        // Uncompressed, the tar is the blob: one hash serves as both diff_id and digest.
        let tar = compression.kind == .none ? blob : HashingSink(next: compressor)
        let sink: any ByteSink = progress.map { CountingSink(next: tar, report: $0) } ?? tar
        let count = try LayerWriter.write(entries, to: sink)
        try sink.finish()
        let diffID = tar.hasher.finalize()
        let uncompressedSize = tar.hasher.count
        let size = blob.hasher.count
        let digest = compression.kind == .none ? diffID : blob.hasher.finalize()
        try layout.adopt(file, digest: digest)
        return PackedLayer(
            descriptor: Descriptor(mediaType: compression.kind.mediaType, digest: digest, size: size),
            diffID: diffID, uncompressedSize: uncompressedSize, entryCount: count)
    }

    /// The diff_id and uncompressed size of a tar made from `entries`, without writing it.
    public static func diffID(of entries: [LayerEntry]) throws -> (Digest, Int64) {
        let tar = HashingSink(next: nil)
        try LayerWriter.write(entries, to: tar)
        return (tar.hasher.finalize(), tar.hasher.count)
    }
}
