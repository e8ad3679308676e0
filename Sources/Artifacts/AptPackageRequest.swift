/// A Debian package asked for by name, optionally pinned: `name` or `name=version`.
///
/// The name follows Debian Policy §5.6.1 (`[a-z0-9][a-z0-9+.-]+`); the version is passed to
/// apt as it is written (Policy §5.6.12 characters), so apt decides what it matches.
public struct AptPackageRequest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The package name.
    public let name: String
    /// The exact version asked for, or `nil` for apt's candidate.
    public let version: String?

    /// A request for `name`, at `version` when given.
    public init(name: String, version: String? = nil) throws {
        guard Self.isValidName(name) else {
            throw ArtifactsError.invalidRequest(
                value: name, reason: "a Debian package name is [a-z0-9][a-z0-9+.-]+ (Debian Policy 5.6.1)")
        }
        if let version {
            guard Self.isValidVersion(version) else {
                throw ArtifactsError.invalidRequest(
                    value: "\(name)=\(version)",
                    reason: "a Debian version starts with a digit and holds only [A-Za-z0-9.+~:-] (Debian Policy 5.6.12)")
            }
        }
        self.name = name
        self.version = version
    }

    /// Parses `name` or `name=version`.
    public init(parsing value: String) throws {
        if let equals = value.firstIndex(of: "=") {
            try self.init(name: String(value[..<equals]), version: String(value[value.index(after: equals)...]))
        } else {
            try self.init(name: value)
        }
    }

    /// `name` or `name=version`, the form apt reads.
    public var description: String { version.map { "\(name)=\($0)" } ?? name }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }

    private static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count >= 2, isLowerAlnum(bytes[0]) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == 0x2B || $0 == 0x2E || $0 == 0x2D }
    }

    private static func isValidVersion(_ version: String) -> Bool {
        let bytes = Array(version.utf8)
        guard let first = bytes.first, first >= 0x30 && first <= 0x39 else { return false }
        return bytes.allSatisfy {
            isLowerAlnum($0) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2E || $0 == 0x2B || $0 == 0x7E || $0 == 0x3A
                || $0 == 0x2D
        }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
    }
}
