import OCI

/// One `.deb` that apt chose, described well enough to fetch and verify it later from any
/// mirror: no URL, only the path relative to the repository root.
public struct ResolvedDeb: Hashable, Sendable, Codable {
    /// The package name.
    public var name: String
    /// The exact Debian version, epoch included (`1:2.0-1`).
    public var version: String
    /// The package's architecture (`amd64`, or `all`).
    public var architecture: String
    /// The file's name: the last component of `poolPath`.
    public var fileName: String
    /// The `Filename` field of the `Packages` list, relative to the repository root
    /// (`pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb`), without a leading `./`.
    public var poolPath: String
    /// The file's size in bytes.
    public var size: Int64
    /// The file's SHA-256.
    public var sha256: Digest

    /// An artifact with every field given.
    public init(
        name: String, version: String, architecture: String, fileName: String, poolPath: String, size: Int64,
        sha256: Digest
    ) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.fileName = fileName
        self.poolPath = poolPath
        self.size = size
        self.sha256 = sha256
    }
}

/// One wheel that pip chose, described without its URL.
public struct ResolvedWheel: Hashable, Sendable, Codable {
    /// The project name as the wheel's metadata spells it (`Jinja2`).
    public var name: String
    /// The exact version (PEP 440), as the metadata spells it.
    public var version: String
    /// The wheel's file name (`torch-2.7.0-cp311-cp311-manylinux_2_28_x86_64.whl`).
    public var fileName: String
    /// The file's size in bytes.
    public var size: Int64
    /// The file's SHA-256.
    public var sha256: Digest
    /// The `Requires-Dist` lines of the metadata, markers included, in the metadata's order.
    public var requiresDist: [String]

    /// An artifact with every field given.
    public init(name: String, version: String, fileName: String, size: Int64, sha256: Digest, requiresDist: [String]) {
        self.name = name
        self.version = version
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.requiresDist = requiresDist
    }

    /// The name normalised as PEP 503 says: lowercase, each run of `-`, `_`, `.` made one `-`.
    public var normalizedName: String { Self.normalize(name) }

    /// `name` normalised as PEP 503 says: lowercase, each run of `-`, `_`, `.` made one `-`.
    public static func normalize(_ name: String) -> String {
        var out = ""
        var inRun = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inRun { out.append("-") }
                inRun = true
            } else {
                out.append(character)
                inRun = false
            }
        }
        return out
    }
}
