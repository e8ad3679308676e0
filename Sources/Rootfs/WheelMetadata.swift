import OCI

/// The header fields of an email-style metadata file (`METADATA`, `WHEEL`): `Name: value`
/// lines up to the first blank line, names compared without case, continuation lines (those
/// starting with a space or tab) joined to the field before. Repeated fields keep every value.
struct MetadataFields {
    private var values: [String: [String]] = [:]

    init(_ bytes: [UInt8]) {
        var last: String?
        // `\r\n` is one Character: splitting on newlines handles every line ending.
        for line in String(decoding: bytes, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { break }  // the body (a description) follows
            if line.first == " " || line.first == "\t" {
                if let last, var list = values[last], !list.isEmpty {
                    list[list.count - 1] += "\n" + line.wheelTrimmed()
                    values[last] = list
                }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].wheelTrimmed().lowercased()
            values[key, default: []].append(line[line.index(after: colon)...].wheelTrimmed())
            last = key
        }
    }

    /// The first value of `name`.
    subscript(_ name: String) -> String? { values[name.lowercased()]?.first }
}

/// A console or GUI script that an `entry_points.txt` declares: `name = module:attr.sub [extras]`.
struct EntryPointScript: Hashable {
    /// The launcher's file name in `bin/`.
    var name: String
    /// The module to import, `pkg.cli`.
    var module: String
    /// The dotted attribute to call, `main` or `Tool.run`.
    var attribute: String

    /// The launcher pip writes (distlib's script template), for the interpreter `interpreter`.
    func launcher(interpreter: String) -> String {
        let importName = attribute.split(separator: ".").first.map(String.init) ?? attribute
        return """
            #!\(interpreter)
            # -*- coding: utf-8 -*-
            import re
            import sys
            from \(module) import \(importName)
            if __name__ == '__main__':
                sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
                sys.exit(\(attribute)())

            """
    }

    /// The `console_scripts` and `gui_scripts` of an `entry_points.txt` (INI sections of
    /// `name = value` lines, as `importlib.metadata` reads them), in the order written.
    /// Names and values are checked here, because they become a file name and Python code.
    static func parse(_ bytes: [UInt8], wheel: String) throws -> [EntryPointScript] {
        var scripts: [EntryPointScript] = []
        var section = ""
        for rawLine in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.wheelTrimmed()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = line.dropFirst().dropLast().wheelTrimmed()
                continue
            }
            guard section == "console_scripts" || section == "gui_scripts" else { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw RootfsError.invalidWheel(wheel: wheel, reason: "entry_points.txt: '\(line)' is not 'name = module:attr'")
            }
            let name = line[..<equals].wheelTrimmed()
            var value = line[line.index(after: equals)...].wheelTrimmed()
            if let bracket = value.firstIndex(of: "[") {  // extras play no part in the launcher
                guard value.hasSuffix("]") else {
                    throw RootfsError.invalidWheel(wheel: wheel, reason: "entry_points.txt: '\(line)' has unbalanced extras")
                }
                value = value[..<bracket].wheelTrimmed()
            }
            let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { $0.wheelTrimmed() }
            guard WheelFormat.isSafeFileName(name) else {
                throw RootfsError.invalidWheel(wheel: wheel, reason: "entry_points.txt: '\(name)' cannot be a script's file name")
            }
            // pip refuses a script without an attribute to call, and so does this.
            guard parts.count == 2, isDottedName(parts[0]), isDottedName(parts[1]) else {
                throw RootfsError.invalidWheel(
                    wheel: wheel, reason: "entry_points.txt: script '\(name)' = '\(value)' is not 'module:attribute' with dotted names")
            }
            scripts.append(EntryPointScript(name: name, module: parts[0], attribute: parts[1]))
        }
        return scripts
    }

    /// Python identifiers (letters, digits, `_`, not starting with a digit) joined by dots.
    private static func isDottedName(_ text: String) -> Bool {
        !text.isEmpty
            && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                guard let first = part.first, first.isLetter || first == "_" else { return false }
                return part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            }
    }
}

/// Small rules of the binary distribution format and the names in it.
enum WheelFormat {
    /// Whether `name` can be one file's name in a directory: not empty, no `/`, not `.` or `..`,
    /// no control characters.
    static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// A distribution name as PEP 503 compares them: lower case, runs of `-`, `_`, `.` as one `-`.
    static func canonicalName(_ name: String) -> String {
        var out = ""
        var pendingSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                pendingSeparator = true
            } else {
                if pendingSeparator && !out.isEmpty { out.append("-") }
                pendingSeparator = false
                out.append(character)
            }
        }
        return out
    }

    /// A `RECORD` hash, `sha256=` and the digest in URL-safe base64 without padding.
    static func recordHash(_ digest: Digest) -> String {
        "\(digest.algorithm.rawValue)=\(urlsafeBase64(hexBytes(digest.encoded)))"
    }

    /// The SHA-256 a `RECORD` hash names (`sha256=` and 43 URL-safe base64 characters), or
    /// nil for another algorithm or a malformed value.
    static func recordSHA256(_ hash: String) -> Digest? {
        guard hash.hasPrefix("sha256="), let bytes = urlsafeBase64Decoded(String(hash.dropFirst(7))), bytes.count == 32 else { return nil }
        return Digest(algorithm: .sha256, bytes: bytes)
    }

    /// URL-safe base64 without padding, decoded; nil for a character outside the alphabet or a
    /// length no encoding has.
    static func urlsafeBase64Decoded(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        values.reserveCapacity(text.utf8.count)
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "_"): values.append(63)
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index < values.count {
            let v = (0..<4).map { index + $0 < values.count ? UInt32(values[index + $0]) : 0 }
            let word = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]
            let available = min(4, values.count - index)
            out.append(UInt8(word >> 16 & 0xFF))
            if available > 2 { out.append(UInt8(word >> 8 & 0xFF)) }
            if available > 3 { out.append(UInt8(word & 0xFF)) }
            index += 4
        }
        return out
    }

    /// The bytes a lowercase hex string spells.
    private static func hexBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= UInt8(ascii: "9") ? $0 - UInt8(ascii: "0") : $0 - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// URL-safe base64 (RFC 4648 §5) without `=` padding.
    static func urlsafeBase64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            if index + 1 < bytes.count { out.append(alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)]) }
            if index + 2 < bytes.count { out.append(alphabet[Int(b2 & 0x3F)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A `RECORD` file (the binary distribution format, "The .dist-info directory"): CSV rows of
/// path, `algorithm=urlsafe-base64-nopad` hash, and size.
struct WheelRecord {
    /// One row.
    struct Row: Hashable {
        /// The path: a member's name in a wheel, relative to site-packages once installed.
        var path: String
        /// `sha256=…`, or empty.
        var hash: String
        /// The size in bytes, or empty.
        var size: String
    }

    /// The rows, in file order.
    var rows: [Row]

    init(rows: [Row]) { self.rows = rows }

    /// Parses RECORD's CSV (Python's `csv` dialect: `,`, `"` quoting with `""` escapes, any line ending).
    init(parsing bytes: [UInt8], wheel: String) throws {
        var rows: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var index = 0
        func endRow() throws {
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
            defer { fields = [] }
            if fields.count == 1 && fields[0].isEmpty { return }  // a blank line
            guard fields.count == 3 else {
                throw RootfsError.invalidWheel(wheel: wheel, reason: "RECORD: row \(rows.count + 1) has \(fields.count) fields, expected 3")
            }
            rows.append(Row(path: fields[0], hash: fields[1], size: fields[2]))
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): quoted = true
            case UInt8(ascii: ","):
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
            case UInt8(ascii: "\r"):
                if index < bytes.count && bytes[index] == UInt8(ascii: "\n") { index += 1 }
                try endRow()
            case UInt8(ascii: "\n"): try endRow()
            default: field.append(byte)
            }
        }
        if quoted { throw RootfsError.invalidWheel(wheel: wheel, reason: "RECORD: unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { try endRow() }
        self.rows = rows
    }

    /// The CSV text: rows in path byte order, fields quoted only when they must be (as
    /// Python's `csv` writer does), `\n` line endings (as the `wheel` tool writes them).
    func rendered() -> [UInt8] {
        func quote(_ field: String) -> String {
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return field }
            return "\"" + field.replacing("\"", with: "\"\"") + "\""
        }
        let sorted = rows.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return Array(sorted.map { "\(quote($0.path)),\(quote($0.hash)),\(quote($0.size))\n" }.joined().utf8)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func wheelTrimmed() -> String {
        let isSpace = { (c: Character) in c == " " || c == "\t" || c == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
