/// A Python version, `MAJOR.MINOR[.MICRO]`: `3.11` or `3.11.7`.
///
/// A missing micro version counts as 0, so `3.11` equals `3.11.0`; `description` keeps the
/// form that was given.
public struct PythonVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    private let numbers: DottedNumbers

    /// The major version, `3` in `3.11.7`.
    public var major: Int { numbers.values[0] }
    /// The minor version, `11` in `3.11.7`.
    public var minor: Int { numbers.values[1] }
    /// The micro version, `7` in `3.11.7`; `nil` in `3.11`.
    public var micro: Int? { numbers.values.count > 2 ? numbers.values[2] : nil }

    /// Parses `MAJOR.MINOR[.MICRO]`, numbers only.
    public init(parsing value: String) throws {
        guard let numbers = DottedNumbers(parsing: value), (2...3).contains(numbers.values.count) else {
            throw VersionError.invalid(kind: .python, value: value, expected: "MAJOR.MINOR[.MICRO], e.g. 3.11 or 3.11.7")
        }
        self.numbers = numbers
    }

    private init(numbers: [Int]) {
        self.numbers = DottedNumbers(numbers)
    }

    /// This version without its micro version: `3.11` for `3.11.7`.
    public var majorMinor: PythonVersion { PythonVersion(numbers: [major, minor]) }

    /// The CPython wheel tag (PEP 425), `cp311` for `3.11`.
    public var cpythonTag: String { "cp\(major)\(minor)" }

    /// The Debian package that provides this interpreter, `python3.11` for `3.11.7`.
    public var debianPackage: String { "python\(major).\(minor)" }

    /// `3.11` or `3.11.7`, as given.
    public var description: String { numbers.description }

    /// Numeric order, a missing micro version counting as 0.
    public static func < (lhs: PythonVersion, rhs: PythonVersion) -> Bool { lhs.numbers < rhs.numbers }

    /// Decodes the string form, e.g. `"3.11"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, PythonVersion.init(parsing:))
    }

    /// Encodes the string form, e.g. `"3.11"`.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }
}
