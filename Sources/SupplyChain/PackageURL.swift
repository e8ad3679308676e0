import Foundation
/// A package URL (purl, ECMA-427): `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, each part
/// percent-encoded except the unreserved characters and `:`, qualifiers sorted by key — the
/// canonical form `packageurl-python` also writes, so the text round-trips through it.
public struct PackageURL: Hashable, Sendable, CustomStringConvertible {
    /// `deb`, `pypi`, `oci`, `generic`.
    public var type: String
    /// `debian`, or nil.
    public var namespace: String?
    /// The name.
    public var name: String
    /// The version, or nil.
    public var version: String?
    /// Qualifiers; empty values are left out.
    public var qualifiers: [String: String]

    /// A package URL.
    public init(type: String, namespace: String? = nil, name: String, version: String? = nil, qualifiers: [String: String] = [:]) {
        self.type = type
        self.namespace = namespace
        self.name = name
        self.version = version
        self.qualifiers = qualifiers
    }

    /// The canonical text.
    public var description: String {
        var text = "pkg:\(type.lowercased())/"
        if let namespace { text += namespace.split(separator: "/").map { Self.encoded(String($0)) }.joined(separator: "/") + "/" }
        text += Self.encoded(name)
        if let version { text += "@" + Self.encoded(version) }
        let pairs = qualifiers.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
        if !pairs.isEmpty { text += "?" + pairs.map { "\($0.key.lowercased())=\(Self.encoded($0.value))" }.joined(separator: "&") }
        return text
    }

    /// A PyPI name as the purl specification wants it: lower case, `_` replaced by `-` (what
    /// packageurl-python writes; unlike PEP 503, a `.` stays).
    public static func pypiName(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~ :` (UTF-8, upper-case hex).
    static func encoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])"
            }
        }
        return out
    }
}
