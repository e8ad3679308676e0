/// A reader for Debian control data: the deb822 paragraphs of `Packages` lists and `.sources`
/// files (deb-control(5), "Syntax of control files").
///
/// Paragraphs are separated by blank lines (a line of only spaces and tabs counts as blank);
/// `Name: value` starts a field, a line that begins with a space or tab continues it, and a
/// line that begins with `#` is a comment. Field names are case-insensitive.
enum ControlFile {
    /// The paragraphs of `bytes`, each holding only the fields named in `fields` (given in
    /// lowercase), keyed by lowercase name. Values are trimmed; continuation lines are joined
    /// with `\n`. Paragraphs that hold none of the fields are dropped.
    ///
    /// `Packages` lists run to tens of megabytes, so the scan works on bytes and makes strings
    /// only for the fields asked for.
    static func paragraphs(_ bytes: some Collection<UInt8>, fields: Set<String>) -> [[String: String]] {
        let wanted = fields.map { Array($0.utf8) }
        let buffer = Array(bytes)
        return buffer.withUnsafeBufferPointer { data in
            var result: [[String: String]] = []
            var current: [String: String] = [:]
            var lastField: String? = nil
            var lineStart = 0
            let end = data.count
            while lineStart < end {
                var lineEnd = lineStart
                while lineEnd < end && data[lineEnd] != 0x0A { lineEnd += 1 }
                var contentEnd = lineEnd
                if contentEnd > lineStart && data[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                defer { lineStart = lineEnd + 1 }

                let first = lineStart < contentEnd ? data[lineStart] : 0x0A
                if isBlank(data, lineStart, contentEnd) {
                    if !current.isEmpty { result.append(current) }
                    current = [:]
                    lastField = nil
                } else if first == 0x23 {  // '#': comment
                    continue
                } else if first == 0x20 || first == 0x09 {  // continuation of the previous field
                    if let field = lastField, let value = current[field] {
                        let more = string(data, lineStart, contentEnd)
                        current[field] = value.isEmpty ? more : value + "\n" + more
                    }
                } else {
                    var colon = lineStart
                    while colon < contentEnd && data[colon] != 0x3A { colon += 1 }
                    guard colon < contentEnd,
                          let name = wanted.first(where: { matches($0, data, lineStart, colon) })
                    else {
                        lastField = nil
                        continue
                    }
                    let key = String(decoding: name, as: UTF8.self)
                    current[key] = string(data, colon + 1, contentEnd)
                    lastField = key
                }
            }
            if !current.isEmpty { result.append(current) }
            return result
        }
    }

    private static func isBlank(_ data: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        while i < end {
            if data[i] != 0x20 && data[i] != 0x09 { return false }
            i += 1
        }
        return true
    }

    /// Whether `data[start..<end]` spells `name` (lowercase) in any case.
    private static func matches(_ name: [UInt8], _ data: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard end - start == name.count else { return false }
        for (offset, expected) in name.enumerated() {
            var byte = data[start + offset]
            if byte >= 0x41 && byte <= 0x5A { byte += 0x20 }
            if byte != expected { return false }
        }
        return true
    }

    /// The bytes as a string, with spaces and tabs trimmed at both ends.
    private static func string(_ data: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        var s = start
        var e = end
        while s < e && (data[s] == 0x20 || data[s] == 0x09) { s += 1 }
        while e > s && (data[e - 1] == 0x20 || data[e - 1] == 0x09) { e -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: data[s..<e]), as: UTF8.self)
    }
}
