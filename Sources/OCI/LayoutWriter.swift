import Foundation
import SystemSupport

/// Writes an OCI image layout directory (image-spec v1.1, image-layout.md): `oci-layout`,
/// `blobs/sha256/…` and `index.json`. Blobs are content-addressed and written atomically.
public struct LayoutWriter: Sendable {
    /// The layout directory.
    public let path: String

    /// Creates the directory structure and `oci-layout`.
    public init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: "\(path)/blobs/sha256", withIntermediateDirectories: true)
        } catch {
            throw OCIError.io(path: path, reason: "cannot create the layout directory: \(error.localizedDescription)")
        }
        try AtomicFileWriter.write(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: "\(path)/oci-layout")
    }

    /// Where a blob lives.
    public func blobPath(_ digest: Digest) -> String { "\(path)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)" }

    /// A temporary file inside the layout for a blob whose digest is not known yet; move it
    /// into place with `adopt`.
    public func temporaryBlob() throws -> AtomicFileWriter {
        try AtomicFileWriter(path: "\(path)/blobs/sha256/.incoming")
    }

    /// Renames a finished temporary blob to its digest.
    public func adopt(_ writer: AtomicFileWriter, digest: Digest) throws {
        try FileManager.default.createDirectory(
            atPath: "\(path)/blobs/\(digest.algorithm.rawValue)", withIntermediateDirectories: true)
        try writer.commit(as: blobPath(digest))
    }

    /// Stores a small blob (a document) and returns its descriptor.
    @discardableResult
    public func write(blob bytes: [UInt8], mediaType: MediaType) throws -> Descriptor {
        let digest = Digest.of(bytes)
        if !FileManager.default.fileExists(atPath: blobPath(digest)) {
            try AtomicFileWriter.write(bytes, to: blobPath(digest))
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// Stores a document canonically encoded and returns its descriptor.
    @discardableResult
    public func write(document: some Encodable, mediaType: MediaType) throws -> Descriptor {
        try write(blob: CanonicalJSON.encode(document), mediaType: mediaType)
    }

    /// Writes `index.json` (last, so a layout with an index is complete).
    public func writeIndex(_ index: Index) throws {
        try AtomicFileWriter.write(CanonicalJSON.encode(index), to: "\(path)/index.json")
    }
}

/// One entry of Docker's `manifest.json` in a `docker save` archive, which `docker load` reads.
public struct DockerArchiveManifest: Codable, Hashable, Sendable {
    /// Path of the config blob inside the archive.
    public var config: String
    /// `repository:tag` names to give the image.
    public var repoTags: [String]
    /// Paths of the layer blobs inside the archive, base first.
    public var layers: [String]

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
    }

    /// An entry.
    public init(config: String, repoTags: [String], layers: [String]) {
        self.config = config
        self.repoTags = repoTags
        self.layers = layers
    }
}

/// Writes an image archive: one uncompressed tar holding the OCI layout and a Docker
/// `manifest.json`, so that `skopeo copy oci-archive:FILE …` and `docker load -i FILE` both
/// accept it. Members are written in a fixed order with fixed metadata.
public enum ArchiveWriter {
    /// Packs `layout` (a finished layout directory) into `path`, atomically.
    /// Blob copies run on up to `threads` threads (the bytes do not depend on it).
    public static func write(
        layout: LayoutDirectory, dockerManifest: [DockerArchiveManifest], to path: String, mtime: Int64, threads: Int = 2
    ) throws {
        let out = try AtomicFileWriter(path: path)
        func add(_ name: String, bytes: [UInt8]) throws {
            try out.write(TarHeader(path: name, kind: .regular, mode: 0o644, size: Int64(bytes.count), mtime: mtime).encode())
            try out.write(bytes)
            try out.write([UInt8](repeating: 0, count: TarHeader.padding(Int64(bytes.count))))
        }
        guard let layoutFile = try layout.document("oci-layout", limit: 1 << 20),
              let indexFile = try layout.document("index.json", limit: 16 << 20)
        else { throw OCIError.invalidLayout(path: layout.path, reason: "oci-layout or index.json is missing") }
        try add("oci-layout", bytes: layoutFile)
        try add("index.json", bytes: indexFile)
        try add("manifest.json", bytes: CanonicalJSON.encode(dockerManifest))
        try out.write(TarHeader(path: "blobs", kind: .directory, mode: 0o755, mtime: mtime).encode())
        try out.write(TarHeader(path: "blobs/sha256", kind: .directory, mode: 0o755, mtime: mtime).encode())
        var position = Int64(lseek(out.descriptor, 0, SEEK_CUR))
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(layout.path)/blobs/sha256")
            .filter { !$0.hasPrefix(".") }.sorted()
        // Every blob's place in the archive is known from the sizes: its header is written
        // here, its bytes are copied by the kernel, up to `threads` blobs at once; padding and
        // the end blocks are the zeros of a file made long enough.
        var copies: [(path: String, offset: Int64, size: Int64)] = []
        for name in names {
            let digest = try Digest(parsing: "sha256:\(name)")
            guard let size = layout.blobSize(digest) else { continue }
            let header = try TarHeader(path: "blobs/sha256/\(name)", kind: .regular, mode: 0o644, size: size, mtime: mtime).encode()
            try out.write(header)
            position += Int64(header.count)
            copies.append((layout.blobPath(digest), position, size))
            position += size + Int64(TarHeader.padding(size))
            guard lseek(out.descriptor, off_t(position), SEEK_SET) >= 0 else {
                throw OCIError.io(path: path, reason: "lseek failed: \(String(cString: strerror(errno)))")
            }
        }
        try out.setLength(position + Int64(TarHeader.endOfArchive.count))
        let descriptor = out.descriptor
        do {
            _ = try Parallel.map(copies, width: max(1, threads)) { copy throws(SystemError) in
                let source = open(copy.path, O_RDONLY | O_CLOEXEC)
                guard source >= 0 else { throw .call("open", path: copy.path, errno: errno) }
                defer { close(source) }
                var status = stat()
                guard fstat(source, &status) == 0 else { throw .call("fstat", path: copy.path, errno: errno) }
                // A blob whose size is not the one read above changed while archiving.
                guard Int64(status.st_size) == copy.size else {
                    throw .unexpected(path: copy.path, reason: "the blob is \(status.st_size) bytes, not the \(copy.size) it had when the archive was laid out: it changed while archiving")
                }
                try FileCopy.copy(from: source, at: 0, to: descriptor, at: copy.offset, length: copy.size, path: copy.path)
            }
        } catch {
            throw OCIError.io(path: path, reason: "\(error)")
        }
        try out.commit()
    }
}
