import Foundation
import Glibc
import SystemSupport
import Testing

@Suite("FileCopy: ranges copied by the kernel or through a buffer")
struct FileCopyTests {
    /// `count` bytes that do not repeat soon.
    static func bytes(_ count: Int) -> [UInt8] {
        var state: UInt32 = 12_345
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12_345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }

    /// A new directory under the temporary one, and a file in it holding `bytes`.
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "/imagegen-copy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    @Test("a range lands at its offset in the destination; the bytes around it stay as they were")
    func range() throws {
        let scratch = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let source = Self.bytes(3 << 20)
        try Self.writeFile(scratch + "/source", source)
        try Self.writeFile(scratch + "/destination", [UInt8](repeating: 0xEE, count: 4 << 20))
        let from = open(scratch + "/source", O_RDONLY)
        let to = open(scratch + "/destination", O_WRONLY)
        defer { close(from); close(to) }
        try FileCopy.copy(from: from, at: 100, to: to, at: 7, length: (3 << 20) - 100, path: scratch + "/source")
        let copied = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch + "/destination")))
        #expect(copied.count == 4 << 20)
        #expect(Array(copied[0..<7]) == [UInt8](repeating: 0xEE, count: 7))
        #expect(Array(copied[7..<(7 + (3 << 20) - 100)]) == Array(source[100...]))
        #expect(copied[(7 + (3 << 20) - 100)...].allSatisfy { $0 == 0xEE })
    }

    @Test("a source that ends before the range is an error that names it and says by how much")
    func shortSource() throws {
        let scratch = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.writeFile(scratch + "/source", Self.bytes(1000))
        let from = open(scratch + "/source", O_RDONLY)
        let to = open(scratch + "/destination", O_WRONLY | O_CREAT, 0o644)
        defer { close(from); close(to) }
        #expect(throws: SystemError.unexpected(path: scratch + "/source", reason: "the file ends 500 bytes before the range to copy does")) {
            try FileCopy.copy(from: from, at: 0, to: to, at: 0, length: 1500, path: scratch + "/source")
        }
    }
}
