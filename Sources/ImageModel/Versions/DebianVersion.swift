/// A Debian package version, `[epoch:]upstream_version[-debian_revision]` (Debian Policy 5.6.12),
/// ordered as dpkg orders it.
///
/// Equality follows the ordering, as in `dpkg --compare-versions`: `1.0` equals `0:1.0`,
/// `1.0-0` and `1.00`. `description` keeps the text as given.
public struct DebianVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The epoch, `1` in `1:2.0-1`; 0 when none is given.
    public let epoch: Int
    /// The upstream version, `2.36` in `2.36-9+deb12u4`.
    public let upstream: String
    /// The Debian revision, `9+deb12u4` in `2.36-9+deb12u4`; `nil` for a native package.
    public let revision: String?
    private let text: String

    private static let example = "e.g. 2.36-9+deb12u4 or 1:1.2.13.dfsg-1"

    /// Parses `[epoch:]upstream_version[-debian_revision]`.
    ///
    /// As in dpkg, the epoch ends at the first colon and the revision starts after the last
    /// hyphen, so the upstream version may itself hold hyphens (only with a revision) and colons
    /// (only with an epoch).
    public init(parsing value: String) throws {
        func invalid(_ expected: String) -> VersionError {
            .invalid(kind: .debian, value: value, expected: expected)
        }
        guard !value.isEmpty else {
            throw invalid("[epoch:]upstream_version[-debian_revision], \(Self.example)")
        }
        var rest = Substring(value)
        var epoch = 0
        if let colon = rest.firstIndex(of: ":") {
            guard let number = parseDecimal(rest[..<colon].utf8) else {
                throw invalid("a number before the first ':' (the epoch), \(Self.example)")
            }
            epoch = number
            rest = rest[rest.index(after: colon)...]
        }
        var revision: Substring?
        if let hyphen = rest.lastIndex(of: "-") {
            revision = rest[rest.index(after: hyphen)...]
            rest = rest[..<hyphen]
        }
        guard let first = rest.utf8.first, isASCIIDigit(first) else {
            throw invalid("the upstream version to start with a digit, \(Self.example)")
        }
        // Policy 5.6.12: alphanumerics and . + ~, plus - when there is a revision and : when
        // there is an epoch; both hold by construction once the string has been split above.
        guard rest.utf8.allSatisfy({ isASCIIDigit($0) || isASCIILetter($0) || ".+~-:".utf8.contains($0) }) else {
            throw invalid("the upstream version to hold only letters, digits and . + ~ - :, \(Self.example)")
        }
        if let revision {
            guard !revision.isEmpty else {
                throw invalid("a revision after the last '-', \(Self.example)")
            }
            guard revision.utf8.allSatisfy({ isASCIIDigit($0) || isASCIILetter($0) || ".+~".utf8.contains($0) }) else {
                throw invalid("the revision after the last '-' to hold only letters, digits and . + ~, \(Self.example)")
            }
        }
        self.epoch = epoch
        self.upstream = String(rest)
        self.revision = revision.map(String.init)
        self.text = value
    }

    /// The version as given, e.g. `1:2.36-9+deb12u4`.
    public var description: String { text }

    /// Equal as dpkg sees it: `1.0`, `0:1.0`, `1.0-0` and `1.00` are all equal.
    public static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) == 0 }

    /// Hashes a form in which every number has lost its leading zeros, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        hasher.combine(Self.hashKey(upstream))
        hasher.combine(Self.hashKey(revision ?? ""))
    }

    /// dpkg's order: epoch, then upstream version, then revision.
    public static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) < 0 }

    /// Decodes the string form, e.g. `"2.36-9+deb12u4"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, DebianVersion.init(parsing:))
    }

    /// Encodes the string form as given.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }

    private static func compare(_ lhs: DebianVersion, _ rhs: DebianVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let upstream = compareParts(Array(lhs.upstream.utf8), Array(rhs.upstream.utf8))
        if upstream != 0 { return upstream }
        // A missing revision compares as the empty string, as in dpkg.
        return compareParts(Array((lhs.revision ?? "").utf8), Array((rhs.revision ?? "").utf8))
    }

    /// dpkg's `verrevcmp` (lib/dpkg/version.c): alternate non-digit and digit runs; non-digit runs
    /// compare character by character with `~` before the end, the end before letters and
    /// letters before other characters; digit runs compare as numbers of any length.
    private static func compareParts(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            while (i < a.count && !isASCIIDigit(a[i])) || (j < b.count && !isASCIIDigit(b[j])) {
                let left = order(i < a.count ? a[i] : nil)
                let right = order(j < b.count ? b[j] : nil)
                if left != right { return left - right }
                i += 1
                j += 1
            }
            while i < a.count && a[i] == UInt8(ascii: "0") { i += 1 }
            while j < b.count && b[j] == UInt8(ascii: "0") { j += 1 }
            var firstDifference = 0
            while i < a.count && isASCIIDigit(a[i]) && j < b.count && isASCIIDigit(b[j]) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if i < a.count && isASCIIDigit(a[i]) { return 1 }
            if j < b.count && isASCIIDigit(b[j]) { return -1 }
            if firstDifference != 0 { return firstDifference }
        }
        return 0
    }

    /// The weight of one character in a non-digit run; `nil` is the end of the string.
    private static func order(_ byte: UInt8?) -> Int {
        guard let byte else { return 0 }
        if isASCIIDigit(byte) { return 0 }
        if isASCIILetter(byte) { return Int(byte) }
        if byte == UInt8(ascii: "~") { return -1 }
        return Int(byte) + 256
    }

    /// The string with leading zeros dropped from every digit run (`1.00` → `1.`, `0` → ``):
    /// strings that `compareParts` finds equal have the same key.
    private static func hashKey(_ part: String) -> [UInt8] {
        var key: [UInt8] = []
        var atRunStart = true
        for byte in part.utf8 {
            if isASCIIDigit(byte) {
                if atRunStart && byte == UInt8(ascii: "0") { continue }
                atRunStart = false
            } else {
                atRunStart = true
            }
            key.append(byte)
        }
        return key
    }
}
