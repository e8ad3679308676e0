import Artifacts
import Foundation
import ImageModel
import OCI
import Rootfs

/// What each artifact declares about itself (``PackageFacts``), read once from the cached
/// artifact and kept under `CACHE/facts/sha256/HEX.json`. Nothing is downloaded for a bill of
/// materials: an artifact that is neither remembered nor cached is an error that says how to
/// get it, so that one image always gets the same document.
struct FactsCache: Sendable {
    let artifacts: ArtifactCache
    let directory: String
    /// The image's name, for the error that says how to fetch a missing artifact.
    let image: String

    init(cacheDirectory: String, image: String) throws {
        artifacts = try ArtifactCache(directory: "\(cacheDirectory)/artifacts")
        directory = "\(cacheDirectory)/facts/sha256"
        self.image = image
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func facts(deb: LockedDeb) throws -> PackageFacts {
        try facts(sha256: deb.sha256, size: deb.size, fileName: deb.fileName) { try PackageFacts(deb: $0) }
    }

    func facts(wheel: LockedWheel) throws -> PackageFacts {
        try facts(sha256: wheel.sha256, size: wheel.size, fileName: wheel.fileName) { try PackageFacts(wheel: $0, name: wheel.fileName) }
    }

    /// The facts remembered for an artifact, without reading it.
    func remembered(_ sha256: Digest) -> PackageFacts? {
        let record = "\(directory)/\(sha256.encoded).json"
        guard let bytes = try? FileReader.readAll(path: record, limit: 16 << 20),
            let cached = try? CanonicalJSON.decode(PackageFacts.self, from: bytes, name: record), cached.format == PackageFacts.formatVersion
        else { return nil }
        return cached
    }

    /// Keeps facts read elsewhere (a layer cache's record of the artifacts it was made from).
    func remember(_ sha256: Digest, _ facts: PackageFacts) throws {
        guard facts.format == PackageFacts.formatVersion else { return }
        let writer = try AtomicFileWriter(path: "\(directory)/\(sha256.encoded).json")
        try writer.write(try CanonicalJSON.encode(facts))
        try writer.commit()
    }

    private func facts(sha256: Digest, size: Int64, fileName: String, read: (String) throws -> PackageFacts) throws -> PackageFacts {
        if let cached = remembered(sha256) { return cached }
        guard let artifact = try artifacts.path(for: sha256, size: size) else {
            throw ImageGenError.invalidInput(
                path: fileName,
                reason: "not in the cache (\(artifacts.directory)); the bill of materials reads each artifact's declared license from it: `imagegen build \(image)` fetches it")
        }
        let facts: PackageFacts
        do {
            facts = try read(artifact)
        } catch {
            throw ImageGenError.packageFacts(fileName: fileName, artifact: artifact, cause: error)
        }
        try remember(sha256, facts)
        return facts
    }
}
