/// Putting a finished layout in place atomically, for commands outside this module (`pull`):
/// the same staging-and-rename that `build` and `pack` use.
public enum OutputDirectory {
    /// An empty staging directory beside `output` (its parent is created).
    public static func makeStaging(for output: String) throws -> String {
        try ImageWriter.makeStaging(for: output)
    }

    /// Moves the finished `staged` directory to `path`, replacing a directory that was there.
    public static func replace(_ path: String, with staged: String) throws {
        try ImageWriter.replace(path, with: staged)
    }
}
