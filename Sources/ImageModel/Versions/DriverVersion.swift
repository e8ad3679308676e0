/// An NVIDIA driver version, two or three numbers: `570.26`, `560.35.03`, `525.60.13`.
///
/// Compared numerically, a missing third number counting as 0 (`560.35.03` equals `560.35.3`);
/// `description` keeps the text as given, leading zeros included, because NVIDIA writes it so.
public struct DriverVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    private let numbers: DottedNumbers
    private let text: String

    /// The driver branch, its first number: `560` in `560.35.03`.
    public var branch: Int { numbers.values[0] }
    /// The numbers, two or three: `[560, 35, 3]` for `560.35.03`.
    public var components: [Int] { numbers.values }

    /// Parses two or three dot-separated numbers.
    public init(parsing value: String) throws {
        guard let numbers = DottedNumbers(parsing: value), (2...3).contains(numbers.values.count) else {
            throw VersionError.invalid(
                kind: .driver, value: value, expected: "2 or 3 dot-separated numbers, e.g. 570.26 or 560.35.03")
        }
        self.numbers = numbers
        self.text = value
    }

    /// The version as given, e.g. `560.35.03`.
    public var description: String { text }

    /// Numeric equality: `560.35.03` equals `560.35.3`, and `570.26` equals `570.26.0`.
    public static func == (lhs: DriverVersion, rhs: DriverVersion) -> Bool { lhs.numbers == rhs.numbers }

    /// Hashes the numeric value, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(numbers) }

    /// Numeric order.
    public static func < (lhs: DriverVersion, rhs: DriverVersion) -> Bool { lhs.numbers < rhs.numbers }

    /// Decodes the string form, e.g. `"560.35.03"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, DriverVersion.init(parsing:))
    }

    /// Encodes the string form as given.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }
}
