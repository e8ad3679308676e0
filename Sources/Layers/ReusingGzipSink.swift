import OCI

/// Writes a tar stream as a gzip file of several members (RFC 1952, 2.2: "a gzip file
/// consists of a series of members"), carrying large deflate streams unchanged.
///
/// A file whose content is a `DeflatedSource` of at least `minimumReusedSize` compressed
/// bytes becomes one member of its own: the fixed 10-byte header, the zip member's raw
/// deflate stream as it is, and the CRC-32 and size from the zip directory as trailer.
/// Everything else — tar headers, padding, small or stored files, generated files, the end
/// of the archive — is deflated by a `GzipCompressor` into members between them, each run of
/// such bytes into one member. Each reused stream is inflated once on the way through, for
/// the diff_id and to check its CRC-32 and size; the result decompresses, with any gzip
/// reader that reads every member, to exactly the tar the plain path writes.
///
/// The output depends only on the input (the streams, the level, the threshold), never on
/// the thread count: run boundaries are the reused files, blocks inside a run are 1 MiB.
final class ReusingGzipSink: DeflateStreamSink {
    /// The smallest compressed stream that is carried as it is; smaller ones are inflated and
    /// deflated with their neighbours. Part of the output format (see docs/performance.md,
    /// "Reused deflate streams", for the measurement behind it).
    static let minimumReusedSize: Int64 = 16 << 10

    /// The uncompressed tar's hash and size (the diff_id).
    let tar = DigestHasher(.sha256)
    private let blob: any ByteSink
    private let level: Int
    private let threads: Int
    private var run: GzipCompressor?
    /// How many deflate streams were carried as they are, and their compressed bytes.
    private(set) var reusedCount = 0
    private(set) var reusedBytes: Int64 = 0

    /// A sink that writes gzip members to `blob`, deflating at `level` with `threads` threads.
    init(level: Int, threads: Int, blob: any ByteSink) {
        self.level = level
        self.threads = threads
        self.blob = blob
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        tar.update(bytes)
        if run == nil { run = GzipCompressor(level: level, threads: threads, output: UnfinishedSink(next: blob)) }
        try run!.write(bytes)
    }

    func writeDeflated(_ source: DeflatedSource, size: Int64) throws -> Bool {
        guard source.compressedSize >= Self.minimumReusedSize else { return false }
        try endRun()
        try GzipCompressor.header.withUnsafeBytes { try blob.write($0) }
        // Inflating on a second thread while this one hashes: the pack's main cost, split in two.
        try source.inflatePipelined(size: size, raw: { try self.blob.write($0) }, output: { self.tar.update($0) })
        // The CRC was checked against the directory's while inflating; ISIZE is the size mod 2^32.
        let trailer = GzipCompressor.trailer(crc: source.crc32, size: UInt64(size))
        try trailer.withUnsafeBytes { try blob.write($0) }
        reusedCount += 1
        reusedBytes += source.compressedSize
        return true
    }

    func finish() throws {
        // An empty tar cannot happen (the end-of-archive blocks always follow), but a gzip
        // file with no member at all would be invalid: write an empty one then.
        if run == nil, reusedCount == 0 { run = GzipCompressor(level: level, threads: threads, output: UnfinishedSink(next: blob)) }
        try endRun()
        try blob.finish()
    }

    private func endRun() throws {
        guard let current = run else { return }
        run = nil
        try current.finish()
    }
}
