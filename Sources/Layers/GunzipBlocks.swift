import Glibc
import OCI
import SystemSupport

/// A gzip stream's decompressed bytes, block by block, for ``ArchiveReader``: inflated by
/// ``LayerDecoder`` — ISA-L when it loads — instead of libarchive's zlib. Every member is read,
/// and bytes after the last one that start no member are ignored, as libarchive and dpkg
/// ignore them.
public final class GunzipBlocks: ArchiveBlocks {
    private let compressed: any ArchiveBlocks
    private let decoder: LayerDecoder
    private let output: GrowingBuffer
    private var ended = false

    /// Inflates the blocks of `compressed` (64 KiB at a time for a file's range: what one
    /// inflates to stays small).
    public init(compressed: any ArchiveBlocks) throws {
        self.compressed = compressed
        let output = GrowingBuffer()
        self.output = output
        decoder = try LayerDecoder(kind: .gzip) { output.append($0) }
        decoder.ignoresTrailingBytes = true
    }

    public func next() throws -> UnsafeRawBufferPointer {
        output.count = 0
        while output.count == 0, !ended {
            let block = try compressed.next()
            if block.isEmpty {
                try decoder.finish()
                ended = true
            } else {
                try decoder.feed(block)
            }
        }
        return output.bytes
    }

    /// Whether the bytes at `offset` of `descriptor` start as gzip does (1f 8b), as libarchive
    /// tells a filter by its bytes, not by a name.
    public static func isGzip(descriptor: Int32, at offset: Int64 = 0) -> Bool {
        var magic: [UInt8] = [0, 0]
        let n = magic.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 2, off_t(offset)) }
        return n == 2 && magic == [0x1F, 0x8B]
    }

    /// Whether the file at `path` starts as gzip does.
    static func isGzip(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return isGzip(descriptor: descriptor)
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
