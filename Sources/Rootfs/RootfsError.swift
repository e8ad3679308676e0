/// Errors raised while building a component tree: unpacking Debian packages, installing wheels
/// into the image's venv, writing the files that go with them.
public enum RootfsError: Error, CustomStringConvertible, Sendable {
    /// A file system call failed on a path.
    case io(path: String, reason: String)
    /// An argument cannot be used as given (a Python version without its micro version, say).
    case invalidArgument(name: String, value: String, reason: String)
    /// A wheel cannot be installed: it is not a zip, lacks its `.dist-info`, or its metadata is malformed.
    case invalidWheel(wheel: String, reason: String)
    /// A wheel member would be unsafe to install: an absolute path, `..`, a symlink, a path
    /// outside the venv, or a write through a symlink already in the tree.
    case unsafeWheelEntry(wheel: String, entry: String, reason: String)
    /// A wheel member does not match the hash or size its own `RECORD` lists for it.
    case recordMismatch(wheel: String, file: String, expected: String, actual: String)
    /// Two wheels install one path with different content (or a wheel installs over a file the
    /// tree already had); `existing` says who installed it first.
    case fileConflict(path: String, wheel: String, existing: String)
    /// A `.deb` cannot be read: not an `ar` archive, a member missing or out of order, a
    /// malformed control paragraph, or a tar that libarchive cannot decode.
    case invalidDeb(deb: String, reason: String)
    /// A `.deb` data member entry would be unsafe to unpack (an absolute path, `..`, a symlink
    /// or hard link that leads outside the tree, a device node); nothing of the package was written.
    case unsafeDebEntry(deb: String, entry: String, reason: String)
    /// The image has Python but the build host has no CPython of its `MAJOR.MINOR` (`3.11`) to
    /// byte-compile it with (imagegen runs nothing from the image); `searched` is the `PATH` looked in.
    case noBytecodeCompiler(python: String, searched: String)
    /// The host interpreter that byte-compiles the image's Python files failed (not a file that
    /// does not compile: those are skipped, as pip and Debian skip them).
    case bytecodeCompiler(interpreter: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "\(path): \(reason)"
        case .invalidArgument(let name, let value, let reason): return "\(name) '\(value)': \(reason)"
        case .invalidWheel(let wheel, let reason): return "\(wheel): \(reason)"
        case .unsafeWheelEntry(let wheel, let entry, let reason): return "\(wheel): entry '\(entry)': \(reason)"
        case .recordMismatch(let wheel, let file, let expected, let actual):
            return "\(wheel): '\(file)' does not match the wheel's RECORD (RECORD says \(expected), the file has \(actual))"
        case .fileConflict(let path, let wheel, let existing):
            return "\(path): installed by both \(wheel) and \(existing), with different content"
        case .invalidDeb(let deb, let reason): return "\(deb): \(reason)"
        case .unsafeDebEntry(let deb, let entry, let reason):
            return "\(deb): refusing entry '\(entry)': \(reason); nothing of this package was written"
        case .noBytecodeCompiler(let python, let searched):
            return "no CPython \(python) (python\(python)) on PATH (\(searched)) to byte-compile the image's Python files with; "
                + "install python\(python)-minimal (scripts/install-deps.sh) or put a CPython \(python) first on PATH"
        case .bytecodeCompiler(let interpreter, let reason): return "byte-compiling with \(interpreter): \(reason)"
        }
    }
}
