/// An identifier with a grammar that JSON holds as its text (`sha256:…`, a media type): decoded
/// by its own parser, so a malformed value is a decoding error that names the field holding it,
/// and encoded as its description.
public protocol ParsedText: Codable, CustomStringConvertible {
    /// Parses `value`, throwing an `OCIError` that says what is wrong with it.
    init(parsing value: String) throws
}

extension ParsedText {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            try self.init(parsing: container.decode(String.self))
        } catch let error as OCIError {
            // Rethrown as a decoding error so the message can name the field that held it.
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
