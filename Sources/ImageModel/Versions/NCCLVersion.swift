/// An NCCL version, `MAJOR.MINOR.PATCH[.BUILD]`: `2.26.2`.
///
/// A missing build number counts as 0, so `2.26.2` equals `2.26.2.0`.
public struct NCCLVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    private let numbers: DottedNumbers

    /// The major version, `2` in `2.26.2`.
    public var major: Int { numbers.values[0] }
    /// The minor version, `26` in `2.26.2`.
    public var minor: Int { numbers.values[1] }
    /// The patch version, `2` in `2.26.2`.
    public var patch: Int { numbers.values[2] }
    /// The fourth number, if given: `1` in `2.26.2.1`.
    public var build: Int? { numbers.values.count > 3 ? numbers.values[3] : nil }

    /// Parses three or four dot-separated numbers.
    public init(parsing value: String) throws {
        guard let numbers = DottedNumbers(parsing: value), (3...4).contains(numbers.values.count) else {
            throw VersionError.invalid(kind: .nccl, value: value, expected: "MAJOR.MINOR.PATCH[.BUILD], e.g. 2.26.2")
        }
        self.numbers = numbers
    }

    /// The numbers joined by dots, as many as were given, e.g. `2.26.2`.
    public var description: String { numbers.description }

    /// Numeric order, a missing build number counting as 0.
    public static func < (lhs: NCCLVersion, rhs: NCCLVersion) -> Bool { lhs.numbers < rhs.numbers }

    /// Decodes the string form, e.g. `"2.26.2"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, NCCLVersion.init(parsing:))
    }

    /// Encodes the string form, e.g. `"2.26.2"`.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }
}
