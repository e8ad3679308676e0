import Foundation

/// The one JSON encoding for everything imagegen hashes or writes: sorted keys, no escaped
/// slashes, no whitespace. The same value always gives the same bytes.
public enum CanonicalJSON {
    /// Encodes a value canonically.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dataEncodingStrategy = .base64
        return Array(try encoder.encode(value))
    }

    /// Encodes a value for people to read (sorted keys, indented); not for hashing.
    public static func pretty(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes a document, naming it in the error.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>, name: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw OCIError.malformedDocument(name: name, reason: error.shortDescription)
        } catch {
            throw OCIError.malformedDocument(name: name, reason: "\(error)")
        }
    }
}

extension DecodingError {
    /// One line: where in the document, and what was wrong.
    var shortDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : " at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
        }
        switch self {
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? OCIError { return "\(underlying)\(path(context))" }
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(context.debugDescription)\(path(context))"
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)'\(path(context))"
        case .typeMismatch(let type, let context):
            return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context):
            return "expected \(type)\(path(context)), got null"
        @unknown default:
            return "\(self)"
        }
    }
}

/// The one place that decides timestamps: `SOURCE_DATE_EPOCH` when set, else the Unix epoch.
/// The clock is never read, so two builds of the same input give the same bytes.
public struct BuildTime: Hashable, Sendable {
    /// Seconds since the Unix epoch.
    public let seconds: Int64

    /// A fixed time.
    public init(seconds: Int64) { self.seconds = seconds }

    /// From `SOURCE_DATE_EPOCH` in `environment` (0 when unset).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let raw = environment["SOURCE_DATE_EPOCH"], !raw.isEmpty else {
            self.seconds = 0
            return
        }
        guard let value = Int64(raw), value >= 0, value < 8_589_934_592 else {
            throw OCIError.invalidValue(
                name: "SOURCE_DATE_EPOCH", value: raw, expected: "whole seconds since 1970 (0 to 8589934591)")
        }
        self.seconds = value
    }

    /// RFC 3339 in UTC, e.g. `1970-01-01T00:00:00Z`.
    public var rfc3339: String {
        // Civil-from-days (Howard Hinnant), so no calendar, locale or TZ is consulted.
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secs = seconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60))Z"
    }
}
