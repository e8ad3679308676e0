internal import CInflate
internal import CZlib
import Glibc
import OCI

/// The library that inflates deflate streams: Intel's ISA-L (igzip), loaded at run time, or
/// zlib. Inflated bytes never depend on the library — a deflate stream has exactly one
/// decoding — so neither does any digest; ISA-L is only faster (about 2.2 × zlib on the
/// project machine, docs/performance.md).
///
/// The choice is made once per process from `IMAGEGEN_INFLATE`: `auto` (the default) takes
/// ISA-L when `libisal.so.2` loads and zlib otherwise; `isal` requires ISA-L; `zlib` never
/// loads it.
public enum InflateLibrary: String, Sendable, CaseIterable {
    case isal
    case zlib

    /// The environment variable that chooses the library.
    public static let environmentVariable = "IMAGEGEN_INFLATE"
    /// The shared object loaded for ISA-L (Debian's `libisal2`).
    public static let isalSoname = "libisal.so.2"

    /// The library this process inflates with, or why the one `IMAGEGEN_INFLATE` asks for
    /// cannot be used.
    public static var selected: Result<InflateLibrary, LayerError> { selection }

    /// Chooses a library from an `IMAGEGEN_INFLATE` value (nil: unset) and whether ISA-L loaded
    /// (nil) or why it did not.
    static func choose(_ value: String?, isalFailure: String?) -> Result<InflateLibrary, LayerError> {
        switch value ?? "" {
        case "", "auto":
            return .success(isalFailure == nil ? .isal : .zlib)
        case "zlib":
            return .success(.zlib)
        case "isal":
            if let isalFailure {
                return .failure(.inflateLibrary("\(environmentVariable)=isal, but \(isalSoname) cannot be loaded: \(isalFailure)"))
            }
            return .success(.isal)
        case let other:
            return .failure(.inflateLibrary("\(environmentVariable)='\(other)': expected auto, isal or zlib"))
        }
    }

    private static let selection: Result<InflateLibrary, LayerError> = {
        let value = getenv(environmentVariable).map { String(cString: $0) }
        // `zlib` never loads the library, so a broken one cannot get in the way.
        if value == "zlib" { return .success(.zlib) }
        return choose(value, isalFailure: ISALLibrary.shared.failure)
    }()
}

/// ISA-L's inflate functions, loaded once with `dlopen`.
struct ISALLibrary: @unchecked Sendable {
    /// The loaded library (never unloaded), or nil.
    let handle: OpaquePointer?
    /// Why it did not load.
    let failure: String?

    /// Loads `path`: a file name the dynamic loader looks up, or a path.
    init(path: String) {
        var error: UnsafePointer<CChar>?
        handle = cinflate_open(path, &error)
        failure = handle == nil ? (error.map { String(cString: $0) } ?? "unknown error") : nil
    }

    static let shared = ISALLibrary(path: InflateLibrary.isalSoname)
}

/// Why inflating failed, in the library's words; callers say which stream it was.
struct InflateFailure: Error {
    var reason: String
}

/// One deflate stream being inflated — a raw stream (RFC 1951) or gzip members (RFC 1952) —
/// by ISA-L or zlib, behind one interface. For a raw stream the CRC-32 of the output is kept
/// (ISA-L computes it as it writes); for gzip the library checks each member's trailer itself.
final class Inflater {
    enum Format {
        case raw
        case gzip
    }

    /// What one call did.
    struct Step {
        var consumed: Int
        var produced: Int
        /// The raw stream, or the current gzip member with its trailer, ended in this call.
        var ended: Bool
    }

    let format: Format
    let library: InflateLibrary
    private var isal: OpaquePointer?
    private var zstream = z_stream()
    /// The CRC-32 of the output since the last reset (raw streams).
    private(set) var crc32: UInt32 = 0
    /// The first failure, thrown again by every later step.
    private var failure: InflateFailure?

    /// An inflater with the process's library (``InflateLibrary/selected``) or `library`.
    init(_ format: Format, library: InflateLibrary? = nil, isal given: ISALLibrary? = nil) throws(LayerError) {
        self.format = format
        if let library { self.library = library } else { self.library = try InflateLibrary.selected.get() }
        switch self.library {
        case .isal:
            // Only here: with zlib, ISA-L is never loaded.
            let loaded = given ?? .shared
            guard let handle = loaded.handle else {
                throw .inflateLibrary("\(InflateLibrary.isalSoname) cannot be loaded: \(loaded.failure ?? "unknown error")")
            }
            guard let stream = cinflate_new(handle, format == .gzip ? 1 : 0) else {
                throw .compression(kind: .gzip, reason: "out of memory for an inflate stream")
            }
            isal = stream
        case .zlib:
            guard CZlib_inflateInit2(&zstream, format == .gzip ? 15 + 16 : -15) == Z_OK else {
                throw .compression(kind: .gzip, reason: "inflateInit2 failed")
            }
        }
    }

    deinit {
        if let isal { cinflate_free(isal) } else { inflateEnd(&zstream) }
    }

    /// The input bytes that made up the stream (or the current gzip member) since the last
    /// reset, once it has ended: exact with either library (ISA-L's `consumed` counts at a raw
    /// stream's end may include a few bytes after it).
    var streamLength: Int64 {
        if let isal { return Int64(cinflate_stream_length(isal)) }
        return Int64(zstream.total_in)
    }

    /// Starts over: the next gzip member, or a new raw stream.
    func reset() {
        crc32 = 0
        if let isal { cinflate_reset(isal) } else { inflateReset(&zstream) }
    }

    /// Inflates as much of `input` into `output` as fits. A call that consumes and produces
    /// nothing needs more input (or more room, when `output` is empty); one that could do
    /// neither with both at hand is a stuck stream, and fails.
    ///
    /// A failed inflater stays failed, reset or not: every later step throws the same failure
    /// (after a bad checksum ISA-L would report the member ended, and its reader go on).
    func step(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(InflateFailure) -> Step {
        if let failure { throw failure }
        do {
            return try advance(input, into: output)
        } catch {
            failure = error
            throw error
        }
    }

    private func advance(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(InflateFailure) -> Step {
        let inLength = UInt32(clamping: input.count)
        let outLength = UInt32(clamping: output.count)
        let inBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let outBase = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if let isal {
            var consumed: UInt32 = 0
            var produced: UInt32 = 0
            var ended: Int32 = 0
            var crc: UInt32 = 0
            let status = cinflate_run(isal, inBase, inLength, &consumed, outBase, outLength, &produced, &ended, &crc)
            guard status == 0 else { throw InflateFailure(reason: Self.isalReason(status)) }
            crc32 = crc
            return try Self.checked(Step(consumed: Int(consumed), produced: Int(produced), ended: ended != 0), input, output)
        }
        zstream.next_in = UnsafeMutablePointer(mutating: inBase)
        zstream.avail_in = inLength
        zstream.next_out = outBase
        zstream.avail_out = outLength
        let status = CZlib.inflate(&zstream, Z_NO_FLUSH)
        let step = Step(consumed: Int(inLength - zstream.avail_in), produced: Int(outLength - zstream.avail_out), ended: status == Z_STREAM_END)
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw InflateFailure(reason: zstream.msg.map { String(cString: $0) } ?? "zlib error \(status)")
        }
        if format == .raw, step.produced > 0 {
            crc32 = UInt32(truncatingIfNeeded: CZlib.crc32(UInt(crc32), outBase, UInt32(step.produced)))
        }
        return try Self.checked(step, input, output)
    }

    private static func checked(
        _ step: Step, _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer
    ) throws(InflateFailure) -> Step {
        if step.consumed == 0, step.produced == 0, !step.ended, !input.isEmpty, !output.isEmpty {
            throw InflateFailure(reason: "inflating stopped with input left")
        }
        return step
    }

    /// ISA-L's error codes (igzip_lib.h) and CInflate's own, in words like zlib's.
    static func isalReason(_ status: Int32) -> String {
        switch status {
        case -1: return "invalid block"
        case -2: return "invalid code (symbol)"
        case -3: return "invalid distance too far back"
        case -4: return "incorrect header check"
        case -5: return "unknown compression method"
        case -6: return "incorrect data check"
        case CINFLATE_HEADER_CRC: return "header crc mismatch"
        case CINFLATE_HEADER_FLAGS: return "unknown header flags set"
        default: return "ISA-L error \(status)"
        }
    }
}
