/// A path inside a tree — an archive, a layer, an image's root — as the components below the
/// tree's root: never absolute, never climbing with `..`, spelled one way.
///
/// Every unpacker and the verifier join and refuse paths through this type, so the rules that
/// keep an archive from writing outside its tree are written once: a member's name is refused
/// when it is absolute or has a `..` part; a link's target is read lexically from the link's
/// folder (absolute targets from the tree's root) and is outside the tree when it climbs above it.
public struct TreePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The components below the root, none of them empty, `.` or `..`.
    public let components: [String]

    /// The tree's root itself.
    public static let root = TreePath(trusted: [])

    /// Components the caller has already checked.
    init(trusted components: [String]) { self.components = components }

    /// An archive member's name: `./usr//bin/` is `usr/bin`, `./` the root.
    /// - Throws: `absolute` for `/etc/passwd`, `climbs` for `a/../../b` (any `..` part).
    public init(member name: String) throws(TreePathError) {
        if name.hasPrefix("/") { throw .absolute(name) }
        let parts = Self.components(of: name)
        if parts.contains("..") { throw .climbs(name) }
        components = parts
    }

    /// A tree path spelled as a dpkg list or a RECORD file does, `/usr/bin/x` or `usr/bin/x`: the
    /// leading `/` is the tree's root. Throws `climbs` for a `..` part.
    public init(rooted path: String) throws(TreePathError) {
        let parts = Self.components(of: path)
        if parts.contains("..") { throw .climbs(path) }
        components = parts
    }

    /// The parts of `path` between slashes, without empty and `.` parts (`..` is kept).
    public static func components(of path: String) -> [String] {
        path.split(separator: "/").filter { $0 != "." }.map(String.init)
    }

    /// Where a symbolic link whose folder is this path leads to, read lexically: an absolute
    /// target from the root, a relative one from here. Nil when it climbs above the root.
    public func resolving(linkTarget target: String) -> TreePath? {
        var out = target.hasPrefix("/") ? [] : components
        for part in Self.components(of: target) {
            if part == ".." {
                guard !out.isEmpty else { return nil }
                out.removeLast()
            } else {
                out.append(part)
            }
        }
        return TreePath(trusted: out)
    }

    /// This path with `name` (one component, or a relative path without `..`) below it.
    public func appending(_ name: String) -> TreePath {
        TreePath(trusted: components + Self.components(of: name).filter { $0 != ".." })
    }

    /// This path with the components of `other` below it.
    public func appending(_ other: TreePath) -> TreePath { TreePath(trusted: components + other.components) }

    /// The folder this path is in (the root for the root).
    public var parent: TreePath { TreePath(trusted: Array(components.dropLast())) }

    /// The last component; nil for the root.
    public var name: String? { components.last }

    /// Whether this is the root.
    public var isRoot: Bool { components.isEmpty }

    /// Whether `other` is this path or a path below it.
    public func contains(_ other: TreePath) -> Bool { other.components.starts(with: components) }

    /// `usr/bin/x` (empty for the root).
    public var relative: String { components.joined(separator: "/") }

    /// `/usr/bin/x` (`/` for the root).
    public var absolute: String { "/" + relative }

    /// This path below a folder of the host: `root/usr/bin/x`.
    public func hostPath(in root: String) -> String { isRoot ? root : root + "/" + relative }

    public var description: String { absolute }

    public static func < (lhs: TreePath, rhs: TreePath) -> Bool { lhs.components.lexicographicallyPrecedes(rhs.components) }
}

/// Why a name cannot be a path inside a tree.
public enum TreePathError: Error, Hashable, CustomStringConvertible {
    /// It starts at the host's root.
    case absolute(String)
    /// It has a `..` part.
    case climbs(String)

    public var description: String {
        switch self {
        case .absolute: "absolute path"
        case .climbs: "the path contains '..'"
        }
    }
}
