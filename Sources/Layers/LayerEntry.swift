import OCI
import SystemSupport

/// One entry of a layer: its tar header and where its content comes from.
public struct LayerEntry: Sendable {
    /// Where a regular file's bytes come from.
    public enum Content: Sendable {
        /// No content (directories, links, devices, empty files).
        case none
        /// The whole file at a path, read when the layer is written.
        case file(path: String)
        /// A byte range of a file (a member of an uncompressed archive, say).
        case fileRange(path: String, offset: Int64)
        /// Bytes in memory (small generated files).
        case bytes([UInt8])
        /// A raw deflate stream inside a file (a deflated zip member): inflated into the tar,
        /// or carried unchanged by a gzip layer that reuses deflate streams.
        case deflated(DeflatedSource)
    }

    /// The tar header; `header.size` is the content's size.
    public var header: TarHeader
    /// The content source.
    public var content: Content

    /// An entry.
    public init(header: TarHeader, content: Content = .none) {
        self.header = header
        self.content = content
    }

    /// A directory.
    public static func directory(_ path: String, mode: UInt32 = 0o755, uid: UInt32 = 0, gid: UInt32 = 0) -> LayerEntry {
        LayerEntry(header: TarHeader(path: path, kind: .directory, mode: mode, uid: uid, gid: gid))
    }

    /// A regular file with content in memory.
    public static func file(_ path: String, bytes: [UInt8], mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0) -> LayerEntry {
        LayerEntry(
            header: TarHeader(path: path, kind: .regular, mode: mode, uid: uid, gid: gid, size: Int64(bytes.count)),
            content: .bytes(bytes))
    }

    /// A symbolic link.
    public static func symlink(_ path: String, target: String) -> LayerEntry {
        LayerEntry(header: TarHeader(path: path, kind: .symlink, mode: 0o777, linkTarget: target))
    }

    /// A hard link to an entry earlier in the same layer.
    public static func hardlink(_ path: String, target: String) -> LayerEntry {
        LayerEntry(header: TarHeader(path: path, kind: .hardlink, mode: 0o644, linkTarget: target))
    }

    /// A whiteout: hides `path` from the layers below (image-spec layer.md "Whiteouts").
    public static func whiteout(_ path: String) -> LayerEntry {
        let parts = path.split(separator: "/")
        let name = ".wh." + (parts.last.map(String.init) ?? path)
        let full = (parts.dropLast().map(String.init) + [name]).joined(separator: "/")
        return LayerEntry(header: TarHeader(path: full, kind: .regular, mode: 0o644))
    }

    /// An opaque whiteout: hides everything the layers below have in `directory`.
    public static func opaqueWhiteout(_ directory: String) -> LayerEntry {
        LayerEntry(header: TarHeader(path: directory + "/.wh..wh..opq", kind: .regular, mode: 0o644))
    }
}

/// Normalises an entry path: relative (a leading `/` is the layer's root), no `.` or empty
/// components, no `..`.
func normalisedPath(_ path: String) throws -> String {
    let tree: TreePath
    do {
        tree = try TreePath(rooted: path)
    } catch {
        throw LayerError.invalidEntry(path: path, reason: "'..' is not allowed in a layer path")
    }
    guard !tree.isRoot else { throw LayerError.invalidEntry(path: path, reason: "empty path") }
    return tree.relative
}
