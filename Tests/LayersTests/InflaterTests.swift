import Foundation
@testable import Layers
import OCI
import TestSupport
import Testing

/// Inflating through ISA-L or zlib (`Inflater`): the same bytes and CRC-32 from both, the same
/// refusals of damaged streams, and the choice `IMAGEGEN_INFLATE` makes, with zlib when ISA-L
/// is missing.
@Suite("Inflating with ISA-L or zlib")
struct InflaterTests {
    /// Text that compresses, bytes that do not, and runs that make long matches: 3 MiB.
    static let sample: [UInt8] = {
        var bytes: [UInt8] = []
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for line in 0..<40_000 { bytes += Array("line \(line): the quick brown fox \(line % 97)\n".utf8) }
        for _ in 0..<(1 << 20) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 33))
        }
        bytes += [UInt8](repeating: 0x41, count: 1 << 19)
        return bytes
    }()

    /// `bytes` as one gzip member, by imagegen's own compressor.
    static func gzip(_ bytes: [UInt8], level: Int = 6) throws -> [UInt8] {
        let sink = MemorySink()
        let compressor = GzipCompressor(level: level, threads: 2, output: sink)
        try bytes.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        return sink.bytes
    }

    /// Inflates `input` fed in pieces of `piece` bytes into an output buffer of `room` bytes
    /// (small, so that every "output full" and "more input" path is taken), member after member.
    static func inflate(_ input: [UInt8], _ format: Inflater.Format, _ library: InflateLibrary, piece: Int = 7_777, room: Int = 5_000)
        throws -> (bytes: [UInt8], crc: UInt32, members: Int)
    {
        let inflater = try Inflater(format, library: library)
        var output: [UInt8] = []
        var members = 0
        var out = [UInt8](repeating: 0, count: room)
        var offset = 0
        var ended = false
        while true {
            if ended {
                guard format == .gzip, offset < input.count else { break }
                inflater.reset()
                ended = false
            }
            let end = min(input.count, offset + piece)
            let step = try input[offset..<end].withUnsafeBytes { chunk in
                try out.withUnsafeMutableBytes { try inflater.step(chunk, into: $0) }
            }
            offset += step.consumed
            output += out[0..<step.produced]
            if step.ended {
                members += 1
                ended = true
            } else if step.consumed == 0, step.produced == 0 {
                guard offset == input.count else { throw FixtureError(message: "\(library): no progress at \(offset)") }
                break
            }
        }
        return (output, inflater.crc32, members)
    }

    @Test("ISA-L loads where scripts/install-deps.sh set the machine up, and is the default there")
    func isalLoads() throws {
        #expect(ISALLibrary.shared.handle != nil, "\(ISALLibrary.shared.failure ?? "")")
        #expect((try? InflateLibrary.choose(nil, isalFailure: nil).get()) == .isal)
    }

    @Test("a raw deflate stream inflates to the same bytes and CRC-32 with both libraries", arguments: [1, 6, 9])
    func raw(level: Int) throws {
        let member = try Self.gzip(Self.sample, level: level)
        // The member without its 10-byte header and 8-byte trailer is the raw stream.
        let stream = Array(member[10..<(member.count - 8)])
        let declared = member[(member.count - 8)..<(member.count - 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        for library in InflateLibrary.allCases {
            let result = try Self.inflate(stream, .raw, library)
            #expect(result.bytes == Self.sample, "\(library)")
            #expect(result.crc == declared, "\(library)")
            #expect(result.members == 1, "\(library)")
        }
    }

    @Test("gzip members back to back — imagegen's and gzip(1)'s, with a file name in the header — inflate alike")
    func members() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("named.txt"), Array(Self.sample[0..<200_000]))
        let named = try run("sh", ["-c", "gzip -9 -c named.txt > named.gz"], directory: scratch.path)
        #expect(named.status == 0, "\(named.stderr)")
        let gnu = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch("named.gz"))))
        let input = try Self.gzip(Self.sample) + gnu + (try Self.gzip([])) + (try Self.gzip(Array(Self.sample[5..<9])))
        let expected = Self.sample + Array(Self.sample[0..<200_000]) + Array(Self.sample[5..<9])
        for library in InflateLibrary.allCases {
            for piece in [1_000, 1 << 20] {
                let result = try Self.inflate(input, .gzip, library, piece: piece)
                #expect(result.bytes == expected, "\(library), pieces of \(piece)")
                #expect(result.members == 4, "\(library), pieces of \(piece)")
            }
        }
    }

    /// A gzip header with the given flags and every optional field they name (RFC 1952 2.3):
    /// an extra field, a file name, a comment and the header's CRC-16.
    static func header(flags: UInt8 = 0x1E, method: UInt8 = 8, headerCRCFlip: UInt16 = 0) -> [UInt8] {
        var header: [UInt8] = [0x1F, 0x8B, method, flags, 0, 0, 0, 0, 0, 3]
        if flags & 0x04 != 0 {
            let extra = Array("AB\u{4}\u{0}wxyz".utf8) + [UInt8](repeating: 7, count: 300)
            header += [UInt8(extra.count & 0xFF), UInt8(extra.count >> 8)] + extra
        }
        if flags & 0x08 != 0 { header += Array("a-file-name.tar".utf8) + [0] }
        if flags & 0x10 != 0 { header += Array("a comment".utf8) + [0] }
        if flags & 0x02 != 0 {
            let crc = UInt16(truncatingIfNeeded: crc32(header)) ^ headerCRCFlip
            header += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        }
        return header
    }

    /// CRC-32 (the gzip one), bit by bit.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    /// ISA-L 2.30 lost its place in a header split inside its optional fields; CInflate reads
    /// the header itself.
    @Test("a gzip header with an extra field, a name, a comment and its CRC-16 inflates alike, split anywhere")
    func headerFields() throws {
        let body = Array(try Self.gzip(Array(Self.sample[0..<100_000])).dropFirst(10))
        let member = Self.header() + body
        let input = member + (try Self.gzip([1, 2, 3])) + member
        let expected = Array(Self.sample[0..<100_000]) + [1, 2, 3] + Array(Self.sample[0..<100_000])
        for library in InflateLibrary.allCases {
            for piece in [1, 2, 3, 5, 13, 333, 1 << 20] {
                let result = try Self.inflate(input, .gzip, library, piece: piece, room: piece == 1 ? 65_536 : 5_000)
                #expect(result.bytes == expected, "\(library), pieces of \(piece)")
                #expect(result.members == 3, "\(library), pieces of \(piece)")
            }
        }
    }

    @Test("a wrong magic, method, header CRC-16 or reserved flag is refused by both libraries in the same words", arguments: [
        "magic", "method", "header CRC-16", "reserved flag",
    ])
    func badHeaders(what: String) throws {
        let (header, reason): ([UInt8], String) = switch what {
        case "magic": ([0x1F, 0x8C] + Array(Self.header(flags: 0).dropFirst(2)), "incorrect header check")
        case "method": (Self.header(flags: 0, method: 7), "unknown compression method")
        case "header CRC-16": (Self.header(headerCRCFlip: 1), "header crc mismatch")
        default: (Self.header(flags: 0x20), "unknown header flags set")
        }
        let input = header + Array(try Self.gzip([1, 2, 3]).dropFirst(10))
        for library in InflateLibrary.allCases {
            for piece in [1, 1 << 20] {
                #expect("\(library), pieces of \(piece)", performing: { try Self.inflate(input, .gzip, library, piece: piece) }, throws: { error in
                    (error as? InflateFailure)?.reason == reason
                })
            }
        }
    }

    @Test("a damaged block or a wrong gzip CRC-32 is refused by both libraries")
    func damaged() throws {
        let member = try Self.gzip(Self.sample)
        var badBlock = Array(member[10..<(member.count - 8)])
        badBlock[0] = 0xFF  // BTYPE 11: a reserved block type
        var badCRC = member
        badCRC[badCRC.count - 6] ^= 0xFF
        for library in InflateLibrary.allCases {
            #expect(throws: InflateFailure.self, "\(library)") { try Self.inflate(badBlock, .raw, library) }
            #expect("\(library)", performing: { try Self.inflate(badCRC, .gzip, library) }, throws: { error in
                (error as? InflateFailure)?.reason.contains("incorrect data check") == true
            })
        }
    }

    /// ISA-L reads up to 7 bytes past a raw stream's end into its bit buffer and counts them
    /// consumed; `streamLength` does not, so bytes after a zip member's stream are still seen.
    @Test("a raw stream's length is exact with bytes after it, with both libraries, read whole or in pieces")
    func rawStreamLength() throws {
        let member = try Self.gzip(Array(Self.sample[0..<300_000]))
        let stream = Array(member[10..<(member.count - 8)])
        for junk in [0, 1, 3, 6, 7, 9] {
            let input = stream + [UInt8](repeating: 0xAA, count: junk)
            for library in InflateLibrary.allCases {
                for (piece, room) in [(1 << 20, 1 << 20), (7_777, 5_000), (100, 7)] {
                    let inflater = try Inflater(.raw, library: library)
                    var out = [UInt8](repeating: 0, count: room)
                    var offset = 0
                    var ended = false
                    while !ended {
                        let end = min(input.count, offset + piece)
                        let step = try input[offset..<end].withUnsafeBytes { chunk in try out.withUnsafeMutableBytes { try inflater.step(chunk, into: $0) } }
                        offset += step.consumed
                        ended = step.ended
                        if !ended, step.consumed == 0, step.produced == 0, offset == input.count { break }
                    }
                    #expect(ended, "\(library), \(junk) bytes after, pieces of \(piece)")
                    #expect(inflater.streamLength == Int64(stream.count), "\(library), \(junk) bytes after, pieces of \(piece), room \(room)")
                }
            }
        }
    }

    @Test("a zip member's stream followed by bytes within its compressed size is refused, saying how many")
    func bytesAfterMemberStream() throws {
        let scratch = try ScratchDirectory()
        let member = try Self.gzip(Array(Self.sample[0..<300_000]))
        let stream = Array(member[10..<(member.count - 8)])
        let crc = member[(member.count - 8)..<(member.count - 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        for junk in [0, 3, 7] {
            try writeFile(scratch("member"), stream + [UInt8](repeating: 0xAA, count: junk))
            let source = DeflatedSource(
                path: scratch("member"), offset: 0, compressedSize: Int64(stream.count + junk), crc32: crc, origin: "demo.whl: demo/blob")
            if junk == 0 {
                #expect(try source.inflatedBytes(size: 300_000) == Array(Self.sample[0..<300_000]))
            } else {
                #expect(performing: { try source.inflatedBytes(size: 300_000) }, throws: { error in
                    "\(error)".hasSuffix("demo.whl: demo/blob: the deflate stream ends \(junk) bytes before its declared compressed size")
                })
            }
        }
    }

    @Test("a failed inflater stays failed: after a bad gzip CRC-32, a reset and more input throw the same failure")
    func failureSticks() throws {
        var bad = try Self.gzip(Self.sample)
        bad[bad.count - 6] ^= 0xFF
        let good = try Self.gzip([1, 2, 3])
        for library in InflateLibrary.allCases {
            let inflater = try Inflater(.gzip, library: library)
            var out = [UInt8](repeating: 0, count: 1 << 22)
            var offset = 0
            var first: String?
            while first == nil, offset < bad.count {
                do {
                    let step = try bad[offset...].withUnsafeBytes { chunk in try out.withUnsafeMutableBytes { try inflater.step(chunk, into: $0) } }
                    offset += step.consumed
                    if step.ended { break }
                } catch {
                    first = (error as? InflateFailure)?.reason ?? "\(error)"
                }
            }
            #expect(first == "incorrect data check", "\(library)")
            inflater.reset()
            #expect("\(library)", performing: {
                try good.withUnsafeBytes { chunk in try out.withUnsafeMutableBytes { try inflater.step(chunk, into: $0) } }
            }, throws: { ($0 as? InflateFailure)?.reason == "incorrect data check" })
        }
    }

    @Test("IMAGEGEN_INFLATE: auto, isal and zlib, ISA-L missing, and a bad value")
    func choice() throws {
        let missing = ISALLibrary(path: "/nonexistent/libisal.so.2")
        #expect(missing.handle == nil)
        let failure = try #require(missing.failure)
        #expect((try? InflateLibrary.choose(nil, isalFailure: failure).get()) == .zlib)
        #expect((try? InflateLibrary.choose("auto", isalFailure: failure).get()) == .zlib)
        #expect((try? InflateLibrary.choose("zlib", isalFailure: nil).get()) == .zlib)
        #expect((try? InflateLibrary.choose("isal", isalFailure: nil).get()) == .isal)
        guard case .failure(let required) = InflateLibrary.choose("isal", isalFailure: failure) else {
            Issue.record("isal required but missing was accepted")
            return
        }
        #expect("\(required)".hasPrefix("IMAGEGEN_INFLATE=isal, but libisal.so.2 cannot be loaded: "))
        guard case .failure(let bad) = InflateLibrary.choose("fast", isalFailure: nil) else {
            Issue.record("a bad value was accepted")
            return
        }
        #expect("\(bad)" == "IMAGEGEN_INFLATE='fast': expected auto, isal or zlib")
        // An inflater asked for ISA-L where it did not load says so instead of crashing.
        #expect(throws: LayerError.self) { try Inflater(.raw, library: .isal, isal: missing) }
    }
}

/// A sink that keeps what it is given.
final class MemorySink: ByteSink {
    var bytes: [UInt8] = []
    func write(_ chunk: UnsafeRawBufferPointer) throws { bytes += chunk }
    func finish() throws {}
}
