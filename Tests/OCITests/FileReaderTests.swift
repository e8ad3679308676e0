import Foundation
import OCI
import Testing
import TestSupport

@Suite("FileReader streams")
struct FileReaderTests {
    /// 1,000 bytes, each its index modulo 251.
    static let bytes = (0..<1000).map { UInt8($0 % 251) }

    /// A scratch directory holding `bytes` as `file`.
    static func sample() throws -> ScratchDirectory {
        let scratch = try ScratchDirectory("imagegen-reader")
        try writeFile(scratch("file"), bytes)
        return scratch
    }

    @Test("stream and streamChunks give the same bytes in the same chunks: the whole file, and a span at an offset")
    func spans() throws {
        let scratch = try Self.sample()
        defer { withExtendedLifetime(scratch) {} }
        let (path, bytes) = (scratch("file"), Self.bytes)
        for (offset, length) in [(nil, nil), (Int64(10), Int64(250)), (Int64(999), Int64(1)), (Int64(0), Int64(0))] as [(Int64?, Int64?)] {
            var viaBuffer: [[UInt8]] = []
            try FileReader(path: path).stream(from: offset, length: length, chunkSize: 64) { viaBuffer.append([UInt8]($0)) }
            var viaArrays: [[UInt8]] = []
            try FileReader(path: path).streamChunks(from: offset, length: length, chunkSize: 64) { viaArrays.append($0) }
            let start = Int(offset ?? 0)
            let expected = Array(bytes[start..<(length.map { start + Int($0) } ?? bytes.count)])
            #expect(viaBuffer.flatMap { $0 } == expected)
            #expect(viaArrays == viaBuffer)
            #expect(viaBuffer.dropLast().allSatisfy { $0.count == 64 } && viaBuffer.allSatisfy { !$0.isEmpty })
        }
    }

    @Test("a span that runs past the end of the file throws, naming the file, from both")
    func pastTheEnd() throws {
        let scratch = try Self.sample()
        defer { withExtendedLifetime(scratch) {} }
        let path = scratch("file")
        let buffered = #expect(throws: OCIError.self) {
            try FileReader(path: path).stream(from: 900, length: 200, chunkSize: 64) { _ in }
        }
        let chunked = #expect(throws: OCIError.self) {
            try FileReader(path: path).streamChunks(from: 900, length: 200, chunkSize: 64) { _ in }
        }
        for error in [buffered, chunked] {
            let text = try #require(error).description
            #expect(text.contains(path) && text.contains("unexpected end of file"), "\(text)")
        }
    }
}
