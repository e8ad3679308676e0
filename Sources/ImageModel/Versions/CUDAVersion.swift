/// A CUDA toolkit version, `MAJOR.MINOR[.PATCH]`: `12.6` or `12.6.3`.
///
/// A missing patch counts as 0, so `12.6` equals `12.6.0` and sorts before `12.6.3`;
/// `description` keeps the form that was given.
public struct CUDAVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    private let numbers: DottedNumbers

    /// The major version, `12` in `12.6.3`.
    public var major: Int { numbers.values[0] }
    /// The minor version, `6` in `12.6.3`.
    public var minor: Int { numbers.values[1] }
    /// The patch version, `3` in `12.6.3`; `nil` in `12.6`.
    public var patch: Int? { numbers.values.count > 2 ? numbers.values[2] : nil }

    /// Parses `MAJOR.MINOR[.PATCH]`, numbers only.
    public init(parsing value: String) throws {
        guard let numbers = DottedNumbers(parsing: value), (2...3).contains(numbers.values.count) else {
            throw VersionError.invalid(kind: .cuda, value: value, expected: "MAJOR.MINOR[.PATCH], e.g. 12.6")
        }
        self.numbers = numbers
    }

    private init(numbers: [Int]) {
        self.numbers = DottedNumbers(numbers)
    }

    /// This version without its patch: `12.6` for `12.6.3`.
    public var majorMinor: CUDAVersion { CUDAVersion(numbers: [major, minor]) }

    /// Whether both versions have the same major and minor version, whatever their patches.
    public func matches(_ other: CUDAVersion) -> Bool {
        major == other.major && minor == other.minor
    }

    /// `12.6` or `12.6.3`, as given.
    public var description: String { numbers.description }

    /// Numeric order, a missing patch counting as 0.
    public static func < (lhs: CUDAVersion, rhs: CUDAVersion) -> Bool { lhs.numbers < rhs.numbers }

    /// Decodes the string form, e.g. `"12.6"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, CUDAVersion.init(parsing:))
    }

    /// Encodes the string form, e.g. `"12.6"`.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }
}
