import OCI

/// Writes layer entries as a deterministic tar stream: entries sorted by path bytes, one
/// header encoding (see `TarHeader`), file content streamed in 1 MiB chunks, and the two end
/// blocks. Paths are checked: relative, no `..`, no duplicates, parents before children.
public enum LayerWriter {
    /// Sorts and checks `entries`, then writes the tar to `sink`. Returns the number of entries.
    @discardableResult
    public static func write(_ entries: [LayerEntry], to sink: any ByteSink) throws -> Int {
        let sorted = try prepare(entries)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { chunk.deallocate() }
        for entry in sorted {
            let header = try entry.header.encode()
            try header.withUnsafeBytes { try sink.write($0) }
            let size = entry.header.size
            guard entry.header.kind == .regular, size > 0 else { continue }
            var written: Int64 = 0
            switch entry.content {
            case .none:
                throw LayerError.invalidEntry(path: entry.header.path, reason: "has size \(size) but no content")
            case .bytes(let bytes):
                written = Int64(bytes.count)
                try bytes.withUnsafeBytes { try sink.write($0) }
            case .file(let path):
                written = try copy(path: path, offset: nil, size: size, chunk: chunk, to: sink)
            case .fileRange(let path, let offset):
                written = try copy(path: path, offset: offset, size: size, chunk: chunk, to: sink)
            case .deflated(let source):
                if let reusing = sink as? any DeflateStreamSink, try reusing.writeDeflated(source, size: size) {
                    written = size
                } else {
                    written = try source.inflate(size: size) { try sink.write($0) }
                }
            }
            guard written == size else {
                throw LayerError.fileChanged(path: entry.header.path, expected: size, got: written)
            }
            let padding = TarHeader.padding(size)
            if padding > 0 {
                try zeroBlock.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<padding])) }
            }
        }
        try TarHeader.endOfArchive.withUnsafeBytes { try sink.write($0) }
        return sorted.count
    }

    private static let zeroBlock = [UInt8](repeating: 0, count: 512)

    /// The length of the tar ``write(_:to:)`` makes of `entries`, to the byte, without reading
    /// any content: each entry's header blocks, its content padded to a block, and the two end
    /// blocks. Throws what `write` would throw for the entries' paths.
    public static func size(of entries: [LayerEntry]) throws -> Int64 {
        var total = Int64(TarHeader.endOfArchive.count)
        for entry in try prepare(entries) {
            total += Int64(try entry.header.encode().count)
            if entry.header.kind == .regular, entry.header.size > 0 {
                total += entry.header.size + Int64(TarHeader.padding(entry.header.size))
            }
        }
        return total
    }

    /// Normalises paths, sorts by path bytes, rejects duplicates and hard links that do not
    /// point at an earlier regular file of the same layer.
    static func prepare(_ entries: [LayerEntry]) throws -> [LayerEntry] {
        var normalised = try entries.map { entry -> LayerEntry in
            var entry = entry
            entry.header.path = try normalisedPath(entry.header.path)
            if entry.header.kind == .hardlink {
                entry.header.linkTarget = try normalisedPath(entry.header.linkTarget)
            }
            if entry.header.kind != .regular { entry.header.size = 0 }
            return entry
        }
        normalised.sort { $0.header.path.utf8.lexicographicallyPrecedes($1.header.path.utf8) }
        var seen = Set<String>()
        var regular = Set<String>()
        for entry in normalised {
            guard seen.insert(entry.header.path).inserted else { throw LayerError.duplicatePath(entry.header.path) }
            switch entry.header.kind {
            case .regular:
                regular.insert(entry.header.path)
            case .hardlink:
                guard regular.contains(entry.header.linkTarget) else {
                    throw LayerError.invalidEntry(
                        path: entry.header.path,
                        reason: "hard link to '\(entry.header.linkTarget)', which is not a regular file earlier in this layer")
                }
            default:
                break
            }
        }
        return normalised
    }

    private static func copy(
        path: String, offset: Int64?, size: Int64, chunk: UnsafeMutableRawBufferPointer, to sink: any ByteSink
    ) throws -> Int64 {
        let reader: FileReader
        do { reader = try FileReader(path: path) } catch { throw LayerError.io(path: path, reason: "\(error)") }
        var position = offset
        var total: Int64 = 0
        // Read one byte past the expected size, to notice a file that grew (a range of a
        // larger file ends where its size says).
        let slack: Int64 = offset == nil ? 1 : 0
        while total < size + slack {
            let want = Int(min(Int64(chunk.count), size - total + slack))
            let n = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]), at: position)
            if n == 0 { break }
            let keep = Int(min(Int64(n), size - total))
            if keep > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: chunk[0..<keep])) }
            total += Int64(n)
            position = position.map { $0 + Int64(n) }
            if offset != nil, total >= size { break }
        }
        return total
    }
}
