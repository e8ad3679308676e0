/// Errors raised while parsing version strings.
public enum VersionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kinds of version that imagegen parses, named as people write them in messages.
    public enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        /// A CUDA toolkit version, `12.6`.
        case cuda = "CUDA"
        /// An NVIDIA driver version, `560.35.03`.
        case driver = "NVIDIA driver"
        /// A cuDNN version, `9.5.1.17`.
        case cuDNN = "cuDNN"
        /// An NCCL version, `2.26.2`.
        case nccl = "NCCL"
        /// A Python version, `3.11`.
        case python = "Python"
        /// A Debian package version, `1:2.36-9+deb12u4`.
        case debian = "Debian"
        /// A Python package version, `2.7.0+cu126`.
        case pep440 = "PEP 440"

        /// The name used in messages, e.g. `NVIDIA driver`.
        public var description: String { rawValue }
    }

    /// A string is not a version of its kind; `expected` says what would have been accepted.
    case invalid(kind: Kind, value: String, expected: String)

    /// One sentence: `invalid CUDA version '12': expected MAJOR.MINOR[.PATCH], e.g. 12.6`.
    public var description: String {
        switch self {
        case .invalid(let kind, let value, let expected):
            return "invalid \(kind) version '\(value)': expected \(expected)"
        }
    }
}

/// Dot-separated decimal numbers, compared as if the shorter list were padded with zeros, so
/// `12.6` equals `12.6.0` and sorts before `12.6.1`.
///
/// The numeric version types store their components as one of these, which gives them
/// equality, hashing and ordering that agree with each other.
struct DottedNumbers: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The numbers as written, without padding.
    let values: [Int]

    /// Wraps numbers that are already known to be non-negative.
    init(_ values: [Int]) {
        self.values = values
    }

    /// Parses `N(.N)*` where each `N` is one or more ASCII digits that fit in an `Int`;
    /// `nil` for anything else (signs, spaces, empty components, overflow).
    init?(parsing text: some StringProtocol) {
        var values: [Int] = []
        for part in text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let number = parseDecimal(part) else { return nil }
            values.append(number)
        }
        self.values = values
    }

    /// The numbers joined by dots, without leading zeros.
    var description: String { values.map(String.init).joined(separator: ".") }

    /// The numbers without trailing zeros: equal values have equal significant parts.
    var significant: ArraySlice<Int> {
        let end = (values.lastIndex { $0 != 0 } ?? -1) + 1
        return values[..<end]
    }

    static func == (lhs: DottedNumbers, rhs: DottedNumbers) -> Bool {
        lhs.significant == rhs.significant
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(Array(significant))
    }

    static func < (lhs: DottedNumbers, rhs: DottedNumbers) -> Bool {
        for index in 0..<max(lhs.values.count, rhs.values.count) {
            let left = index < lhs.values.count ? lhs.values[index] : 0
            let right = index < rhs.values.count ? rhs.values[index] : 0
            if left != right { return left < right }
        }
        return false
    }
}

/// Parses one or more ASCII digits into an `Int`; `nil` for anything else or on overflow.
///
/// `Int.init(_: String)` is not used because it also accepts a leading `+` or `-`.
func parseDecimal(_ digits: some Collection<UInt8>) -> Int? {
    guard !digits.isEmpty else { return nil }
    var value = 0
    for byte in digits {
        guard isASCIIDigit(byte) else { return nil }
        let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflowB) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        guard !overflowA, !overflowB else { return nil }
        value = sum
    }
    return value
}

/// Whether a byte is `0`–`9`.
func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

/// Whether a byte is `A`–`Z` or `a`–`z`.
func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
}

/// Decodes a version from its string form, turning a `VersionError` into a `DecodingError`
/// so that the decoder's message can name the field that held the bad value.
func decodeVersion<Version>(from decoder: any Decoder, _ parse: (String) throws -> Version) throws -> Version {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
        return try parse(text)
    } catch let error as VersionError {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
    }
}

/// Encodes a version as its string form.
func encodeVersion(_ version: some CustomStringConvertible, to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(version.description)
}
