/// A `WWW-Authenticate` challenge (RFC 7235): a scheme and its parameters, e.g.
/// `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`.
public struct AuthChallenge: Hashable, Sendable {
    /// The scheme, lowercased (`basic`, `bearer`).
    public var scheme: String
    /// The parameters, names lowercased.
    public var parameters: [String: String]

    /// A challenge.
    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Parses one header value: a scheme, then `name=value` or `name="quoted, value"` pairs
    /// separated by commas. Returns nil for a header without a scheme.
    public init?(header: String) {
        let text = Array(header.utf8)
        var i = 0
        func skipSpaces() { while i < text.count, text[i] == 0x20 || text[i] == 0x09 { i += 1 } }
        skipSpaces()
        let schemeStart = i
        while i < text.count, text[i] != 0x20, text[i] != 0x2C { i += 1 }
        guard i > schemeStart else { return nil }
        scheme = String(decoding: text[schemeStart..<i], as: UTF8.self).lowercased()
        parameters = [:]
        while i < text.count {
            skipSpaces()
            while i < text.count, text[i] == 0x2C || text[i] == 0x20 { i += 1 }
            let nameStart = i
            while i < text.count, text[i] != 0x3D, text[i] != 0x2C { i += 1 }
            let name = String(decoding: text[nameStart..<i], as: UTF8.self).trimmingSpaces.lowercased()
            guard i < text.count, text[i] == 0x3D else { continue }
            i += 1
            var value = [UInt8]()
            if i < text.count, text[i] == 0x22 {
                i += 1
                while i < text.count, text[i] != 0x22 {
                    if text[i] == 0x5C, i + 1 < text.count { i += 1 }
                    value.append(text[i])
                    i += 1
                }
                i += 1
            } else {
                while i < text.count, text[i] != 0x2C { value.append(text[i]); i += 1 }
            }
            if !name.isEmpty { parameters[name] = String(decoding: value, as: UTF8.self).trimmingSpaces }
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
