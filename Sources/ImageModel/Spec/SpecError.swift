/// A problem with a spec file (or the catalog): where, and what was expected.
public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// The 1-based line, when known.
    public var line: Int?
    /// What is wrong, as a sentence.
    public var message: String

    /// A problem at a place.
    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// A problem at a YAML node.
    init(at location: SpecLocation, _ message: String) {
        self.init(file: location.file, line: location.line, message: message)
    }

    /// `FILE, line N: message`.
    public var description: String {
        if let line { return "\(file), line \(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// A place in a spec file.
public struct SpecLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// The 1-based line.
    public var line: Int

    /// `FILE, line N`.
    public var description: String { "\(file), line \(line)" }
}
