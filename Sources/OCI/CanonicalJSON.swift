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

/// The one place that decides timestamps.
///
/// Builds never read the clock: a layer's files carry `SOURCE_DATE_EPOCH` when it is set, else
/// the Unix epoch (``fileTime(sourceDateEpoch:)``), and the image's `created` date is
/// `SOURCE_DATE_EPOCH` when set, else the date its lock was resolved
/// (``created(sourceDateEpoch:resolved:)``), so two builds of one lock give the same bytes.
/// The clock is read in one place, ``now()``, when a lock is resolved.
public struct BuildTime: Hashable, Comparable, Sendable {
    /// Seconds since the Unix epoch.
    public let seconds: Int64

    /// The latest time a tar header's 11 octal digits hold (and the limit of every BuildTime).
    static let limit: Int64 = 8_589_934_592

    /// The Unix epoch, 1970-01-01T00:00:00Z.
    public static let epoch = BuildTime(seconds: 0)

    /// A fixed time.
    public init(seconds: Int64) { self.seconds = seconds }

    /// From `SOURCE_DATE_EPOCH` in `environment` (0 when unset).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self = try Self.sourceDateEpoch(environment: environment) ?? .epoch
    }

    /// `SOURCE_DATE_EPOCH` in `environment`; nil when it is unset or empty.
    public static func sourceDateEpoch(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BuildTime? {
        guard let raw = environment["SOURCE_DATE_EPOCH"], !raw.isEmpty else { return nil }
        guard let value = Int64(raw), value >= 0, value < limit else {
            throw OCIError.invalidValue(
                name: "SOURCE_DATE_EPOCH", value: raw, expected: "whole seconds since 1970 (0 to \(limit - 1))")
        }
        return BuildTime(seconds: value)
    }

    /// The time of every file in a layer: `SOURCE_DATE_EPOCH`, else the epoch. Never a lock's
    /// date, so that a re-lock that changes one artifact leaves every other layer as it was.
    public static func fileTime(sourceDateEpoch: BuildTime?) -> BuildTime {
        sourceDateEpoch ?? .epoch
    }

    /// The image's `created` date (config, history, `org.opencontainers.image.created`):
    /// `SOURCE_DATE_EPOCH` when set, else when its lock was resolved, else (a lock without the
    /// date) the epoch.
    public static func created(sourceDateEpoch: BuildTime?, resolved: BuildTime?) -> BuildTime {
        sourceDateEpoch ?? resolved ?? .epoch
    }

    /// The clock, to the second: when a lock is resolved. Nothing else reads it.
    public static func now() -> BuildTime {
        BuildTime(seconds: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }

    /// Parses RFC 3339 in UTC to the second, as ``rfc3339`` writes it: `2026-11-30T12:00:00Z`.
    /// `name` names the value in the error.
    public init(rfc3339 text: String, name: String) throws {
        let invalid = OCIError.invalidValue(
            name: name, value: text, expected: "a UTC time to the second, YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-30T12:00:00Z)")
        let bytes = Array(text.utf8)
        // Y Y Y Y - M M - D D T h h : m m : s s Z
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
        else { throw invalid }
        func number(_ range: Range<Int>) throws -> Int64 {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw invalid }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let (year, month, day) = (try number(0..<4), try number(5..<7), try number(8..<10))
        let (hour, minute, second) = (try number(11..<13), try number(14..<16), try number(17..<19))
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...monthDays[Int(month) - 1]).contains(day), hour < 24, minute < 60, second < 60 else {
            throw invalid
        }
        // Days-from-civil (Howard Hinnant), the inverse of ``rfc3339``.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second
        guard seconds >= 0, seconds < Self.limit else { throw invalid }
        self.seconds = seconds
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

    public static func < (lhs: BuildTime, rhs: BuildTime) -> Bool { lhs.seconds < rhs.seconds }
}

/// A time in a document (a lock's `resolved`) is its ``BuildTime/rfc3339`` string.
extension BuildTime: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(rfc3339: text, name: decoder.codingPath.last?.stringValue ?? "time")
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)", underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}
