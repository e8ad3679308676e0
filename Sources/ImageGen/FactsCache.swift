import Artifacts
import Foundation
import ImageModel
import OCI
import Rootfs

/// What each artifact declares about itself (``PackageFacts``), read once from the cached
/// artifact and kept under `CACHE/facts/sha256/HEX.json`. An artifact not in the cache has
/// no facts (its license is then `NOASSERTION`); nothing is downloaded for a bill of materials.
struct FactsCache {
    let artifacts: ArtifactCache
    let directory: String

    init(cacheDirectory: String) throws {
        artifacts = try ArtifactCache(directory: "\(cacheDirectory)/artifacts")
        directory = "\(cacheDirectory)/facts/sha256"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func facts(deb: LockedDeb) throws -> PackageFacts? {
        try facts(sha256: deb.sha256, size: deb.size) { try PackageFacts(deb: $0) }
    }

    func facts(wheel: LockedWheel) throws -> PackageFacts? {
        try facts(sha256: wheel.sha256, size: wheel.size) { try PackageFacts(wheel: $0, name: wheel.fileName) }
    }

    private func facts(sha256: Digest, size: Int64, read: (String) throws -> PackageFacts) throws -> PackageFacts? {
        let record = "\(directory)/\(sha256.encoded).json"
        if let bytes = try? FileReader.readAll(path: record, limit: 16 << 20),
            let cached = try? CanonicalJSON.decode(PackageFacts.self, from: bytes, name: record), cached.format == PackageFacts.formatVersion
        {
            return cached
        }
        guard let artifact = try artifacts.path(for: sha256, size: size) else { return nil }
        let facts = try read(artifact)
        let writer = try AtomicFileWriter(path: record)
        try writer.write(try CanonicalJSON.encode(facts))
        try writer.commit()
        return facts
    }
}
