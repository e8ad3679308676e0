/// Errors raised while parsing or storing OCI identifiers and documents.
public enum OCIError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A digest string does not follow `algorithm ":" encoded` or its algorithm's encoding.
    case invalidDigest(value: String, reason: String)
    /// A media type string is not `type "/" subtype` per RFC 6838.
    case invalidMediaType(value: String)
    /// A document could not be decoded.
    case malformedDocument(name: String, reason: String)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// A layout or archive lacks something it must have.
    case invalidLayout(path: String, reason: String)
    /// A tar stream is malformed at a byte offset.
    case invalidTar(offset: Int64, reason: String)
    /// A value does not follow its grammar.
    case invalidValue(name: String, value: String, expected: String)
    /// A tar entry cannot be represented.
    case unrepresentableEntry(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidDigest(let value, let reason):
            return "invalid digest '\(value)': \(reason)"
        case .invalidMediaType(let value):
            return "invalid media type '\(value)': expected 'type/subtype' (RFC 6838)"
        case .malformedDocument(let name, let reason):
            return "\(name): malformed JSON: \(reason)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .invalidLayout(let path, let reason):
            return "\(path): \(reason)"
        case .invalidTar(let offset, let reason):
            return "tar stream, byte \(offset): \(reason)"
        case .invalidValue(let name, let value, let expected):
            return "\(name) '\(value)': expected \(expected)"
        case .unrepresentableEntry(let path, let reason):
            return "\(path): cannot be written to tar: \(reason)"
        }
    }
}
