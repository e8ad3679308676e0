import OCI

/// Errors raised while reading trees, writing layers, or (de)compressing them.
public enum LayerError: Error, CustomStringConvertible, Sendable {
    /// A file system call failed on a path.
    case io(path: String, reason: String)
    /// An entry cannot go into a layer as it is.
    case invalidEntry(path: String, reason: String)
    /// Two entries claim the same path.
    case duplicatePath(String)
    /// A file changed size while it was being packed.
    case fileChanged(path: String, expected: Int64, got: Int64)
    /// The compressor or decompressor reported an error.
    case compression(kind: LayerCompressionKind, reason: String)
    /// libarchive could not read an input archive.
    case archive(path: String, reason: String)
    /// The inflate library `IMAGEGEN_INFLATE` asks for cannot be used (see ``InflateLibrary``).
    case inflateLibrary(String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "\(path): \(reason)"
        case .invalidEntry(let path, let reason): return "\(path): \(reason)"
        case .duplicatePath(let path): return "\(path): appears twice in one layer"
        case .fileChanged(let path, let expected, let got):
            return "\(path): changed while packing (expected \(expected) bytes, read \(got))"
        case .compression(let kind, let reason): return "\(kind.rawValue): \(reason)"
        case .archive(let path, let reason): return "\(path): \(reason)"
        case .inflateLibrary(let reason): return reason
        }
    }
}
