/// A cuDNN version, one to four numbers: `9`, `9.5`, `9.5.1`, `9.5.1.17`.
///
/// Missing numbers count as 0, so `9.5` equals `9.5.0.0`.
public struct CuDNNVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    private let numbers: DottedNumbers

    /// The major version, `9` in `9.5.1.17`.
    public var major: Int { numbers.values[0] }
    /// The numbers as given, one to four: `[9, 5, 1, 17]`.
    public var components: [Int] { numbers.values }

    /// Parses one to four dot-separated numbers.
    public init(parsing value: String) throws {
        guard let numbers = DottedNumbers(parsing: value), (1...4).contains(numbers.values.count) else {
            throw VersionError.invalid(
                kind: .cuDNN, value: value, expected: "1 to 4 dot-separated numbers, e.g. 9 or 9.5.1.17")
        }
        self.numbers = numbers
    }

    /// The numbers joined by dots, as many as were given, e.g. `9.5.1.17`.
    public var description: String { numbers.description }

    /// Numeric order, missing numbers counting as 0.
    public static func < (lhs: CuDNNVersion, rhs: CuDNNVersion) -> Bool { lhs.numbers < rhs.numbers }

    /// Decodes the string form, e.g. `"9.5.1.17"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, CuDNNVersion.init(parsing:))
    }

    /// Encodes the string form, e.g. `"9.5.1.17"`.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }
}
