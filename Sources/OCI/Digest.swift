/// A content digest, `algorithm:encoded` (image-spec v1.1, descriptor.md "Digests").
///
/// Only the registered algorithms that imagegen can verify are accepted: `sha256` (64 lowercase
/// hex digits) and `sha512` (128). The string is parsed once, where it enters.
public struct Digest: Hashable, Sendable, Comparable, ParsedText {
    /// The registered digest algorithms.
    public enum Algorithm: String, Sendable, CaseIterable, Codable {
        case sha256
        case sha512

        /// The length of the hex encoding.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    /// The algorithm.
    public let algorithm: Algorithm
    /// The lowercase hex encoding of the hash.
    public let encoded: String

    /// Parses `algorithm:encoded`, checking the spec's grammar and the algorithm's encoding.
    public init(parsing value: String) throws {
        guard let colon = value.firstIndex(of: ":") else {
            throw OCIError.invalidDigest(value: value, reason: "expected 'algorithm:encoded'")
        }
        let algorithmPart = String(value[..<colon])
        let encodedPart = String(value[value.index(after: colon)...])
        // algorithm ::= component (separator component)*; component ::= [a-z0-9]+
        let grammarOK = !algorithmPart.isEmpty && algorithmPart.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
        guard grammarOK else {
            throw OCIError.invalidDigest(value: value, reason: "algorithm must match [a-z0-9]+([+._-][a-z0-9]+)*")
        }
        guard let algorithm = Algorithm(rawValue: algorithmPart) else {
            throw OCIError.invalidDigest(value: value, reason: "unsupported algorithm '\(algorithmPart)' (expected sha256 or sha512)")
        }
        guard encodedPart.utf8.count == algorithm.hexLength,
              encodedPart.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw OCIError.invalidDigest(
                value: value, reason: "\(algorithm.rawValue) needs \(algorithm.hexLength) lowercase hex digits")
        }
        self.algorithm = algorithm
        self.encoded = encodedPart
    }

    /// Makes a digest from a raw hash value.
    public init(algorithm: Algorithm, bytes: some Sequence<UInt8>) {
        self.algorithm = algorithm
        self.encoded = bytes.hexString
    }

    /// `algorithm:encoded`.
    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    /// The short form people read: the first 12 hex digits.
    public var short: String { "\(algorithm.rawValue):\(encoded.prefix(12))" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }


    /// The digest of a byte buffer.
    public static func of(_ bytes: some Collection<UInt8>, algorithm: Algorithm = .sha256) -> Digest {
        let hasher = DigestHasher(algorithm)
        Array(bytes).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}

extension Sequence<UInt8> {
    /// Lowercase hex.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
