import Foundation
import Layers
import OCI

/// Packed layers kept by their inputs' key: a layer whose inputs did not change is not
/// re-packed, and its blob is reused bit for bit.
///
/// `DIR/blobs/sha256/…` holds the blobs, `DIR/keys/KEY.json` what the key packed to. An entry
/// whose blob is missing or has the wrong size is a miss. Writes are atomic (temporary name,
/// then rename), so a build killed at any point leaves the cache usable.
struct LayerCache {
    let directory: String
    let blobs: LayoutWriter

    init(directory: String) throws {
        self.directory = directory
        self.blobs = try LayoutWriter(path: directory)
        try FileManager.default.createDirectory(atPath: "\(directory)/keys", withIntermediateDirectories: true)
    }

    private func keyPath(_ key: Digest) -> String { "\(directory)/keys/\(key.encoded).json" }

    /// The cached layer for `key`, if its blob is intact.
    func lookup(_ key: Digest) -> PackedLayer? {
        guard let bytes = try? FileReader.readAll(path: keyPath(key), limit: 1 << 20),
              let layer = try? CanonicalJSON.decode(CachedLayer.self, from: bytes, name: "layer cache entry"),
              LayoutDirectory(path: directory).blobSize(layer.descriptor.digest) == layer.descriptor.size
        else { return nil }
        return PackedLayer(descriptor: layer.descriptor, diffID: layer.diffID, uncompressedSize: layer.uncompressedSize, entryCount: layer.entryCount)
    }

    /// Whether the cache holds the blob `digest`.
    func holds(_ digest: Digest) -> Bool { LayoutDirectory(path: directory).blobSize(digest) != nil }

    /// Records what `key` packed to (the blob is already in `blobs`).
    func record(_ key: Digest, _ layer: PackedLayer) throws {
        let entry = CachedLayer(
            descriptor: layer.descriptor, diffID: layer.diffID, uncompressedSize: layer.uncompressedSize, entryCount: layer.entryCount)
        try AtomicFileWriter.write(CanonicalJSON.encode(entry), to: keyPath(key))
    }

    /// Puts a cached blob into an output layout: a hard link when both are on one file system,
    /// else a copy.
    func export(_ layer: PackedLayer, to layout: LayoutWriter) throws {
        let source = blobs.blobPath(layer.descriptor.digest)
        let target = layout.blobPath(layer.descriptor.digest)
        let fm = FileManager.default
        if fm.fileExists(atPath: target) { return }
        do {
            try fm.linkItem(atPath: source, toPath: target)
        } catch {
            let writer = try AtomicFileWriter(path: target)
            try FileReader(path: source).stream { try writer.write($0) }
            try writer.commit()
        }
    }

    struct CachedLayer: Codable {
        var descriptor: Descriptor
        var diffID: Digest
        var uncompressedSize: Int64
        var entryCount: Int
    }
}
