import Glibc
import OCI
import SystemSupport

/// A gzip file's decompressed bytes, block by block, for ``ArchiveReader``: inflated by
/// ``LayerDecoder`` — ISA-L when it loads — instead of libarchive's zlib. Every member is read,
/// and bytes after the last one that start no member are ignored, as libarchive ignores them.
final class GunzipBlocks: ArchiveBlocks {
    private let reader: FileReader
    private let decoder: LayerDecoder
    private let output: GrowingBuffer
    /// Compressed bytes per read: small enough that what one read inflates to stays small.
    private let input: UnsafeMutableRawBufferPointer
    private var ended = false

    /// Reads the gzip file at `path`.
    init(path: String) throws {
        reader = try FileReader(path: path)
        let output = GrowingBuffer()
        self.output = output
        decoder = try LayerDecoder(kind: .gzip) { output.append($0) }
        decoder.ignoresTrailingBytes = true
        // Last: an init that throws runs no deinit.
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 15, alignment: 64)
    }

    deinit { input.deallocate() }

    func next() throws -> UnsafeRawBufferPointer {
        output.count = 0
        while output.count == 0, !ended {
            let n = try reader.read(into: input)
            if n == 0 {
                try decoder.finish()
                ended = true
            } else {
                try decoder.feed(UnsafeRawBufferPointer(rebasing: input[0..<n]))
            }
        }
        return output.bytes
    }

    /// Whether the file at `path` starts as gzip does (1f 8b).
    static func isGzip(_ path: String) -> Bool {
        guard let reader = try? FileReader(path: path) else { return false }
        var magic: [UInt8] = [0, 0]
        let n = (try? magic.withUnsafeMutableBytes { try reader.read(into: $0) }) ?? 0
        return n == 2 && magic == [0x1F, 0x8B]
    }
}

/// Bytes appended into one allocation that grows as needed and is reused.
private final class GrowingBuffer {
    private var storage = UnsafeMutableRawPointer.allocate(byteCount: 1 << 18, alignment: 64)
    private var capacity = 1 << 18
    var count = 0

    deinit { storage.deallocate() }

    func append(_ bytes: UnsafeRawBufferPointer) {
        if count + bytes.count > capacity {
            var larger = capacity * 2
            while count + bytes.count > larger { larger *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: larger, alignment: 64)
            grown.copyMemory(from: storage, byteCount: count)
            storage.deallocate()
            storage = grown
            capacity = larger
        }
        if let base = bytes.baseAddress { (storage + count).copyMemory(from: base, byteCount: bytes.count) }
        count += bytes.count
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }
}
