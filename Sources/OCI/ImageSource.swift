import Foundation

/// Read access to an OCI image layout, whether it is a directory or an archive.
public protocol ImageSource {
    /// The path the user named.
    var path: String { get }
    /// A top-level file of the layout (`oci-layout`, `index.json`, `manifest.json`), or nil
    /// when absent. Refuses files over `limit` bytes.
    func document(_ name: String, limit: Int) throws -> [UInt8]?
    /// The stored size of a blob, or nil when the blob is missing.
    func blobSize(_ digest: Digest) -> Int64?
    /// Streams a blob's bytes.
    func streamBlob(_ digest: Digest, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Where a blob's bytes lie on disk, or nil when the blob is missing.
    func blobFile(_ digest: Digest) -> BlobFile?
}

extension ImageSource {
    /// A whole blob, refusing blobs over `limit` bytes (documents, not layers).
    public func blob(_ digest: Digest, limit: Int = 16 << 20) throws -> [UInt8] {
        guard let size = blobSize(digest) else {
            throw OCIError.invalidLayout(path: path, reason: "blob \(digest) is missing")
        }
        guard size <= Int64(limit) else {
            throw OCIError.invalidLayout(path: path, reason: "blob \(digest) is \(size) bytes, over the \(limit)-byte limit for a document")
        }
        var out = [UInt8]()
        out.reserveCapacity(Int(size))
        try streamBlob(digest) { out += $0 }
        return out
    }

    /// The layout's `index.json`.
    public func index() throws -> Index {
        guard let bytes = try document("index.json", limit: 16 << 20) else {
            throw OCIError.invalidLayout(path: path, reason: "index.json is missing")
        }
        return try CanonicalJSON.decode(Index.self, from: bytes, name: "index.json")
    }
}

/// Where a blob's bytes lie on disk: a whole file (a layout) or a member of an archive.
/// A plain value, so concurrent readers (parallel uploads) can each open the file themselves.
public struct BlobFile: Hashable, Sendable {
    /// The file holding the bytes.
    public var path: String
    /// Where the blob starts in it.
    public var offset: Int64
    /// The blob's size.
    public var size: Int64

    /// A region of a file.
    public init(path: String, offset: Int64, size: Int64) {
        self.path = path
        self.offset = offset
        self.size = size
    }
}

/// Opens a layout directory or an archive, whichever `path` is.
public func openImage(_ path: String) throws -> any ImageSource {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw OCIError.io(path: path, reason: "no such file or directory")
    }
    return isDirectory.boolValue ? LayoutDirectory(path: path) : try ImageArchive(path: path)
}

/// An OCI image layout directory (image-spec v1.1, image-layout.md).
public struct LayoutDirectory: ImageSource {
    public let path: String

    /// A layout at `path`.
    public init(path: String) { self.path = path }

    /// Where a blob lives.
    public func blobPath(_ digest: Digest) -> String { "\(path)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)" }

    public func document(_ name: String, limit: Int) throws -> [UInt8]? {
        let file = "\(path)/\(name)"
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try FileReader.readAll(path: file, limit: limit)
    }

    public func blobSize(_ digest: Digest) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: blobPath(digest)),
              attributes[.type] as? FileAttributeType == .typeRegular
        else { return nil }
        return (attributes[.size] as? NSNumber)?.int64Value
    }

    public func streamBlob(_ digest: Digest, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try FileReader(path: blobPath(digest)).stream(body)
    }

    /// Where a blob lies, or nil when it is missing.
    public func blobFile(_ digest: Digest) -> BlobFile? {
        blobSize(digest).map { BlobFile(path: blobPath(digest), offset: 0, size: $0) }
    }
}

/// An image archive: an uncompressed tar holding an OCI layout (and, from imagegen, a Docker
/// `manifest.json`). Blobs are read in place by offset; the archive is never unpacked.
public final class ImageArchive: ImageSource {
    public let path: String
    private let reader: FileReader
    private var members: [String: (offset: Int64, size: Int64)] = [:]

    /// Indexes the archive's members by reading only their headers.
    public init(path: String) throws {
        self.path = path
        reader = try FileReader(path: path)
        let fileSize = try reader.size()
        var magic = [UInt8](repeating: 0, count: 4)
        let n = try magic.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
        if n >= 2, magic[0] == 0x1F, magic[1] == 0x8B {
            throw OCIError.invalidLayout(path: path, reason: "a gzip file, not an uncompressed image archive; gunzip it first")
        }
        if n >= 4, magic == [0x28, 0xB5, 0x2F, 0xFD] {
            throw OCIError.invalidLayout(path: path, reason: "a zstd file, not an uncompressed image archive; decompress it first")
        }
        // Headers are read one at a time and content is skipped by seeking, so indexing a
        // multi-GB archive reads a few KiB.
        var found: [String: (Int64, Int64)] = [:]
        var pendingContent: Int64 = 0
        var parser = TarStreamParser { entry in
            pendingContent = entry.header.size
            guard entry.header.kind == .regular else { return }
            var name = entry.rawPath
            while name.hasPrefix("./") { name.removeFirst(2) }
            found[name] = (entry.dataOffset, entry.header.size)
        }
        var position: Int64 = 0
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { block.deallocate() }
        while position < fileSize, !parser.finished {
            let got = try reader.read(into: block, at: position)
            guard got == 512 else {
                throw OCIError.invalidTar(offset: position, reason: "truncated archive (a header block is cut short)")
            }
            try parser.feed(UnsafeRawBufferPointer(block))
            position += 512
            // Skip content by seeking rather than reading it.
            if pendingContent > 0 {
                let skip = pendingContent + Int64(TarHeader.padding(pendingContent))
                pendingContent = 0
                guard position + skip <= fileSize else {
                    throw OCIError.invalidTar(offset: position, reason: "truncated archive (a member's content is cut short)")
                }
                try parser.skipContent(skip)
                position += skip
            }
        }
        members = found.mapValues { (offset: $0.0, size: $0.1) }
    }

    /// The member names, sorted.
    public var memberNames: [String] { members.keys.sorted() }

    public func document(_ name: String, limit: Int) throws -> [UInt8]? {
        guard let member = members[name] else { return nil }
        guard member.size <= Int64(limit) else {
            throw OCIError.io(path: "\(path):\(name)", reason: "\(member.size) bytes is over the \(limit)-byte limit for a document")
        }
        var out = [UInt8]()
        try reader.stream(from: member.offset, length: member.size) { out += $0 }
        return out
    }

    public func blobSize(_ digest: Digest) -> Int64? {
        members["blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"]?.size
    }

    /// Where a blob lies inside the archive, or nil when it is missing.
    public func blobFile(_ digest: Digest) -> BlobFile? {
        members["blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"].map { BlobFile(path: path, offset: $0.offset, size: $0.size) }
    }

    public func streamBlob(_ digest: Digest, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let member = members["blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"] else {
            throw OCIError.invalidLayout(path: path, reason: "blob \(digest) is missing")
        }
        try reader.stream(from: member.offset, length: member.size, body)
    }
}
