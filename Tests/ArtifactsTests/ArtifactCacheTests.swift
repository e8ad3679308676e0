import Artifacts
import Foundation
import OCI
import Testing
import TestSupport

@Suite("ArtifactCache")
struct ArtifactCacheTests {
    /// A file of `bytes` in a scratch directory, to be stored.
    static func temporaryFile(_ scratch: ScratchDirectory, _ bytes: [UInt8], name: String = UUID().uuidString) throws -> String {
        let path = scratch("incoming/\(name)")
        try writeFile(path, bytes)
        return path
    }

    /// Overwrites the start of a file in place: same inode, same size.
    static func overwrite(_ path: String, with bytes: [UInt8]) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    static let payload = Array((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })

    @Test("a stored file comes back by its digest, read-only, and the temporary file is gone")
    func roundTrip() throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let cache = try ArtifactCache(directory: scratch("cache"))
        let digest = Digest.of(Self.payload)
        let size = Int64(Self.payload.count)
        #expect(try cache.path(for: digest, size: size) == nil)

        let temporary = try Self.temporaryFile(scratch, Self.payload)
        let stored = try cache.store(temporaryFile: temporary, sha256: digest, size: size)
        #expect(stored == scratch("cache/sha256/\(digest.encoded)"))
        #expect(stored == cache.entryPath(for: digest))
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(try sha256sum(stored).sha256 == digest.description)
        let mode = try FileManager.default.attributesOfItem(atPath: stored)[.posixPermissions] as? Int
        #expect(mode == 0o444)

        #expect(try cache.path(for: digest, size: size) == stored)
        // Asked again once the marker is older than the entry's last change: trusted, same answer.
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try cache.path(for: digest, size: size) == stored)
        #expect(try cache.path(for: digest, size: size) == stored)
        // The same artifact stored again is a no-op.
        let again = try cache.store(temporaryFile: Self.temporaryFile(scratch, Self.payload), sha256: digest, size: size)
        #expect(again == stored)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch("cache/tmp")).isEmpty)
    }

    @Test("a cached file changed afterwards is found, removed, and no longer returned", arguments: [0.0, 0.05])
    func tampered(delay: Double) throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let cache = try ArtifactCache(directory: scratch("cache"))
        let digest = Digest.of(Self.payload)
        let size = Int64(Self.payload.count)
        let stored = try cache.store(temporaryFile: Self.temporaryFile(scratch, Self.payload), sha256: digest, size: size)
        // With a delay, the entry has been verified and marked before it is changed.
        Thread.sleep(forTimeInterval: delay)
        #expect(try cache.path(for: digest, size: size) == stored)
        Thread.sleep(forTimeInterval: delay)

        // In place, same size, the modification time set back: only the change time tells.
        let modified = try FileManager.default.attributesOfItem(atPath: stored)[.modificationDate]
        try Self.overwrite(stored, with: Array("tampered".utf8))
        try FileManager.default.setAttributes([.modificationDate: try #require(modified)], ofItemAtPath: stored)

        #expect(try cache.path(for: digest, size: size) == nil)
        #expect(!FileManager.default.fileExists(atPath: stored))
    }

    @Test("a truncated entry or one of the wrong type is removed")
    func truncatedAndWrongType() throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let cache = try ArtifactCache(directory: scratch("cache"))
        let digest = Digest.of(Self.payload)
        try writeFile(cache.entryPath(for: digest), Array(Self.payload.prefix(1000)))
        #expect(try cache.path(for: digest, size: Int64(Self.payload.count)) == nil)
        #expect(!FileManager.default.fileExists(atPath: cache.entryPath(for: digest)))

        try FileManager.default.createDirectory(atPath: cache.entryPath(for: digest), withIntermediateDirectories: true)
        #expect(try cache.path(for: digest, size: Int64(Self.payload.count)) == nil)
        #expect(!FileManager.default.fileExists(atPath: cache.entryPath(for: digest)))
    }

    @Test("a file whose hash is not the one given is refused, named, and leaves no entry")
    func wrongHash() throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let cache = try ArtifactCache(directory: scratch("cache"))
        let expected = Digest.of(Array("the locked bytes".utf8))
        let bytes = Array("other bytes".utf8)
        let temporary = try Self.temporaryFile(scratch, bytes, name: "lib_1.0_all.deb")

        let error = #expect(throws: ArtifactsError.self) {
            try cache.store(temporaryFile: temporary, sha256: expected, size: Int64(bytes.count))
        }
        #expect(error == .digestMismatch(
            file: "lib_1.0_all.deb", expected: expected, actual: Digest.of(bytes),
            expectedSize: Int64(bytes.count), actualSize: Int64(bytes.count)))
        let text = try #require(error).description
        #expect(text.contains("lib_1.0_all.deb"), "\(text)")
        #expect(text.contains(expected.description), "\(text)")
        #expect(text.contains(Digest.of(bytes).description), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(!FileManager.default.fileExists(atPath: cache.entryPath(for: expected)))
        #expect(try cache.path(for: expected, size: Int64(bytes.count)) == nil)

        // The right bytes with the wrong size are refused too, and the sizes are named.
        let right = try Self.temporaryFile(scratch, Array("the locked bytes".utf8), name: "lib.deb")
        let sized = #expect(throws: ArtifactsError.self) { try cache.store(temporaryFile: right, sha256: expected, size: 99) }
        #expect(try #require(sized).description.contains("(16 bytes, not 99)"))
        #expect(!FileManager.default.fileExists(atPath: cache.entryPath(for: expected)))
    }

    @Test("concurrent stores of one artifact all succeed and leave one intact entry")
    func concurrentStores() async throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let directory = scratch("cache")
        let digest = Digest.of(Self.payload)
        let size = Int64(Self.payload.count)
        let files = try (0..<8).map { try Self.temporaryFile(scratch, Self.payload, name: "copy-\($0)") }

        // Each task opens its own cache, as separate processes would.
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for file in files {
                group.addTask {
                    try ArtifactCache(directory: directory).store(temporaryFile: file, sha256: digest, size: size)
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let cache = try ArtifactCache(directory: directory)
        #expect(Set(paths) == [cache.entryPath(for: digest)])
        #expect(try sha256sum(cache.entryPath(for: digest)).sha256 == digest.description)
        #expect(try cache.path(for: digest, size: size) == cache.entryPath(for: digest))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/sha256") == [digest.encoded])
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/tmp").isEmpty)
        for file in files { #expect(!FileManager.default.fileExists(atPath: file)) }
    }

    @Test("temporary directories are unique and live under tmp/")
    func temporaryDirectories() throws {
        let scratch = try ScratchDirectory("imagegen-cache")
        let cache = try ArtifactCache(directory: scratch("cache"))
        let first = try cache.makeTemporaryDirectory("apt")
        let second = try cache.makeTemporaryDirectory("apt")
        #expect(first != second)
        #expect(first.hasPrefix(scratch("cache/tmp/apt-")))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: second, isDirectory: &isDirectory) && isDirectory.boolValue)
    }
}
