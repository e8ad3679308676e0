/// A Python package version as PEP 440 defines it: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`.
///
/// Parsing accepts the spellings PEP 440 normalises (case, a leading `v`, `alpha`/`beta`/`c`/`pre`/
/// `preview`, `rev`/`r`, `-1` for a post-release, `-`/`_`/`.` separators, implicit numbers) and
/// `description` is the normalised form: `1.0RC1` → `1.0rc1`, `1.0-1` → `1.0.post1`. Unlike PEP
/// 440, surrounding whitespace is refused, as for every other version type here.
///
/// Ordering follows PEP 440: dev-releases, then pre-releases, then the release, then
/// post-releases; a local version sorts after the same public version; trailing zeros in the
/// release are insignificant, so `1.0` equals `1.0.0`.
public struct PEP440Version: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// A pre-release: its phase and number, `rc1` in `2.0rc1`.
    public struct PreRelease: Hashable, Comparable, Sendable {
        /// The phases of a pre-release, in order.
        public enum Phase: String, Hashable, Comparable, Sendable {
            /// An alpha release, `a` (also spelt `alpha`).
            case alpha = "a"
            /// A beta release, `b` (also spelt `beta`).
            case beta = "b"
            /// A release candidate, `rc` (also spelt `c`, `pre`, `preview`).
            case releaseCandidate = "rc"

            /// Alpha before beta before release candidate.
            public static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.order < rhs.order }

            private var order: Int {
                switch self {
                case .alpha: 0
                case .beta: 1
                case .releaseCandidate: 2
                }
            }
        }

        /// The phase, `releaseCandidate` in `2.0rc1`.
        public let phase: Phase
        /// The number, `1` in `2.0rc1`; 0 when none was written.
        public let number: Int

        /// Phase first, then number.
        public static func < (lhs: PreRelease, rhs: PreRelease) -> Bool {
            (lhs.phase, lhs.number) < (rhs.phase, rhs.number)
        }
    }

    /// The epoch, `1` in `1!2.0`; 0 when none is given.
    public let epoch: Int
    /// The release numbers, `[2, 7, 0]` in `2.7.0+cu126`.
    public let release: [Int]
    /// The pre-release, `rc1` in `2.0rc1`.
    public let pre: PreRelease?
    /// The post-release number, `1` in `1.0.post1`.
    public let post: Int?
    /// The dev-release number, `0` in `1.0.dev0`.
    public let dev: Int?
    /// The normalised local version label, `cu126` in `2.7.0+cu126`: lowercase, segments joined by
    /// dots, numeric segments without leading zeros.
    public let local: String?

    private static let expected =
        "[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], e.g. 2.7.0, 2.8.0rc1, 1.0.post1, 2.7.0+cu126"

    /// Parses a PEP 440 version, accepting the spellings that PEP 440 normalises.
    public init(parsing value: String) throws {
        var parser = Parser(value)
        guard let parsed = parser.parse() else {
            throw VersionError.invalid(kind: .pep440, value: value, expected: Self.expected)
        }
        self = parsed
    }

    fileprivate init(epoch: Int, release: [Int], pre: PreRelease?, post: Int?, dev: Int?, local: String?) {
        self.epoch = epoch
        self.release = release
        self.pre = pre
        self.post = post
        self.dev = dev
        self.local = local
    }

    /// This version without its local label: `2.7.0` for `2.7.0+cu126`.
    public var publicVersion: PEP440Version {
        PEP440Version(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: nil)
    }

    /// Whether this is a pre-release or a dev-release (PEP 440 treats both as pre-releases).
    public var isPrerelease: Bool { pre != nil || dev != nil }

    /// The normalised form, e.g. `1!2.0rc1.post2.dev3+cu126`.
    public var description: String {
        var text = epoch == 0 ? "" : "\(epoch)!"
        text += release.map(String.init).joined(separator: ".")
        if let pre { text += "\(pre.phase.rawValue)\(pre.number)" }
        if let post { text += ".post\(post)" }
        if let dev { text += ".dev\(dev)" }
        if let local { text += "+\(local)" }
        return text
    }

    /// Equal in PEP 440's order: `1.0` equals `1.0.0`.
    public static func == (lhs: PEP440Version, rhs: PEP440Version) -> Bool { lhs.key == rhs.key }

    /// Hashes the comparison key, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// PEP 440's order.
    public static func < (lhs: PEP440Version, rhs: PEP440Version) -> Bool { lhs.key < rhs.key }

    /// Decodes the string form, e.g. `"2.7.0+cu126"`.
    public init(from decoder: any Decoder) throws {
        self = try decodeVersion(from: decoder, PEP440Version.init(parsing:))
    }

    /// Encodes the normalised string form.
    public func encode(to encoder: any Encoder) throws {
        try encodeVersion(self, to: encoder)
    }

    private var key: SortKey { SortKey(self) }
}

/// The fields of a `PEP440Version` arranged so that comparing them in order gives PEP 440's
/// order (the same arrangement as `packaging.version._cmpkey`).
private struct SortKey: Hashable, Comparable {
    /// Where the pre-release part sits.
    enum Slot: Hashable, Comparable {
        /// Before every pre-release: a dev-release of the release itself (`1.0.dev0` < `1.0a0`).
        case before
        /// A pre-release.
        case value(PEP440Version.PreRelease)
        /// After every pre-release: no pre-release at all (`1.0rc1` < `1.0`).
        case after
    }

    /// One segment of a local label: strings sort before numbers.
    enum LocalSegment: Hashable, Comparable {
        case string(String)
        case number(Int)
    }

    let epoch: Int
    let release: DottedNumbers
    let pre: Slot
    let post: Int?
    let dev: Int?
    let local: [LocalSegment]?

    init(_ version: PEP440Version) {
        epoch = version.epoch
        release = DottedNumbers(version.release)
        if let pre = version.pre {
            self.pre = .value(pre)
        } else if version.post == nil && version.dev != nil {
            pre = .before
        } else {
            pre = .after
        }
        post = version.post
        dev = version.dev
        local = version.local.map { label in
            label.split(separator: ".").map { segment in
                parseDecimal(segment.utf8).map(LocalSegment.number) ?? .string(String(segment))
            }
        }
    }

    static func < (lhs: SortKey, rhs: SortKey) -> Bool {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch }
        if lhs.release != rhs.release { return lhs.release < rhs.release }
        if lhs.pre != rhs.pre { return lhs.pre < rhs.pre }
        // No post-release sorts before any post-release.
        if lhs.post != rhs.post { return (lhs.post ?? -1) < (rhs.post ?? -1) }
        // No dev-release sorts after any dev-release.
        if lhs.dev != rhs.dev { return (lhs.dev ?? .max) < (rhs.dev ?? .max) }
        switch (lhs.local, rhs.local) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let left?, let right?): return left.lexicographicallyPrecedes(right)
        }
    }
}

/// A hand-written scanner for PEP 440's grammar (Appendix B's regular expression), over the
/// lowercased ASCII bytes of the input.
private struct Parser {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) {
        bytes = text.utf8.map { (byte: UInt8) -> UInt8 in
            byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
        }
    }

    mutating func parse() -> PEP440Version? {
        _ = consume("v")
        var epoch = 0
        let start = position
        if let number = number(), consume("!") {
            epoch = number
        } else {
            position = start
        }
        guard let release = releaseNumbers(),
              let pre = preRelease(),
              let post = postRelease(),
              let dev = devRelease(),
              let local = localLabel(),
              position == bytes.count
        else { return nil }
        return PEP440Version(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: local)
    }

    /// `N(.N)*`.
    private mutating func releaseNumbers() -> [Int]? {
        guard let first = number() else { return nil }
        var release = [first]
        while peek() == UInt8(ascii: "."), position + 1 < bytes.count, isASCIIDigit(bytes[position + 1]) {
            position += 1
            guard let next = number() else { return nil }
            release.append(next)
        }
        return release
    }

    /// `[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?N?`; `.some(nil)` when absent, `nil` on overflow.
    private mutating func preRelease() -> PEP440Version.PreRelease?? {
        let labels: [(String, PEP440Version.PreRelease.Phase)] = [
            ("alpha", .alpha), ("a", .alpha), ("beta", .beta), ("b", .beta),
            ("preview", .releaseCandidate), ("pre", .releaseCandidate), ("c", .releaseCandidate), ("rc", .releaseCandidate),
        ]
        let start = position
        _ = separator()
        guard let phase = labels.first(where: { consume($0.0) })?.1 else {
            position = start
            return .some(nil)
        }
        guard let number = implicitNumber() else { return nil }
        return .some(PEP440Version.PreRelease(phase: phase, number: number))
    }

    /// `-N` or `[-_.]?(post|rev|r)[-_.]?N?`; `.some(nil)` when absent, `nil` on overflow.
    private mutating func postRelease() -> Int?? {
        let start = position
        if consume("-"), peek().map(isASCIIDigit) == true {
            return number().map(Optional.some)
        }
        position = start
        _ = separator()
        guard consume("post") || consume("rev") || consume("r") else {
            position = start
            return .some(nil)
        }
        return implicitNumber().map(Optional.some)
    }

    /// `[-_.]?dev[-_.]?N?`; `.some(nil)` when absent, `nil` on overflow.
    private mutating func devRelease() -> Int?? {
        let start = position
        _ = separator()
        guard consume("dev") else {
            position = start
            return .some(nil)
        }
        return implicitNumber().map(Optional.some)
    }

    /// `+[a-z0-9]+([-_.][a-z0-9]+)*`, normalised; `.some(nil)` when absent, `nil` when malformed.
    private mutating func localLabel() -> String?? {
        guard consume("+") else { return .some(nil) }
        var segments: [String] = []
        repeat {
            let start = position
            while let byte = peek(), isASCIIDigit(byte) || isASCIILetter(byte) { position += 1 }
            guard position > start else { return nil }
            let segment = bytes[start..<position]
            if segment.allSatisfy(isASCIIDigit) {
                // Numeric segments compare as numbers, so they are written without leading zeros.
                guard let number = parseDecimal(segment) else { return nil }
                segments.append(String(number))
            } else {
                segments.append(String(decoding: segment, as: UTF8.self))
            }
        } while separator()
        return .some(segments.joined(separator: "."))
    }

    /// `[-_.]?N?` after a label; a missing number is 0. `nil` on overflow.
    private mutating func implicitNumber() -> Int? {
        _ = separator()
        guard peek().map(isASCIIDigit) == true else { return 0 }
        return number()
    }

    /// One or more digits, or `nil` (leaving the position) when there are none or they overflow.
    private mutating func number() -> Int? {
        let start = position
        while let byte = peek(), isASCIIDigit(byte) { position += 1 }
        guard let value = parseDecimal(bytes[start..<position]) else {
            position = start
            return nil
        }
        return value
    }

    /// Consumes one of `-`, `_`, `.`.
    private mutating func separator() -> Bool {
        consume("-") || consume("_") || consume(".")
    }

    /// Consumes `literal` if the input continues with it.
    private mutating func consume(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes[position...].starts(with: expected) else { return false }
        position += expected.count
        return true
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }
}
