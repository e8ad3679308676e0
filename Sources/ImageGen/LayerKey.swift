import ImageModel
import Layers
import OCI
import Rootfs

/// A layer's cache key: the SHA-256 of its inputs written as text, one per line, in a fixed
/// order (docs/building.md, "Layer keys"). The encoding is spelled out here, field by field,
/// so that a key never depends on how Swift happens to print a value.
///
/// Every key starts with the recipe version (`Builder.recipeVersion`, raised whenever the way a
/// tree is made changes), the platform, the component, the compression and the files' time.
enum LayerKey {
    /// A component layer's key: then the venv's Python (`-` without one), the debs' SHA-256s,
    /// `lower:` and the SHA-256s of every deb below (a deb layer's dpkg status lists them),
    /// `wheels:` and the wheels' SHA-256s, `bytecode:` and the compiler's identity.
    static func component(
        _ kind: ComponentKind, architecture: String, python: PythonVersion?, options: Builder.Options, debs: [LockedDeb],
        lower: [LockedDeb], wheels: [LockedWheel], bytecode: BytecodeCompiler?
    ) -> Digest {
        // Reused deflate streams give other blob bytes than recompression (the same diff_id).
        let encoding = options.compression.kind == .gzip && !wheels.isEmpty
            ? (options.reuseDeflateStreams ? "+reuse-\(LayerPacker.reuseRule)" : "+recompress") : ""
        return digest(
            [Builder.recipeVersion, "linux/\(architecture)", kind.rawValue, python.map { "\($0)" } ?? "-",
             options.compression.description + encoding, "\(options.fileTime.seconds)", "debs:"]
                + debs.map(\.sha256.description) + ["lower:"] + lower.map(\.sha256.description)
                + ["wheels:"] + wheels.map(\.sha256.description) + ["bytecode:", bytecode?.identity ?? "-"])
    }

    /// The config layer's key: then `accounts:` and what the account files are made from, one
    /// line per entry (``line(_:)``), and the SHA-256 of each entry's bytes (empty for none).
    static func config(architecture: String, options: Builder.Options, accounts: LayerPlan.Accounts, entries: [LayerEntry]) -> Digest {
        digest(
            [Builder.recipeVersion, "linux/\(architecture)", "config", options.compression.description, "\(options.fileTime.seconds)",
             "accounts:", accounts.identity]
                + entries.map { line($0.header) }
                + entries.map { entry in
                    if case .bytes(let bytes) = entry.content { return Digest.of(bytes).description }
                    return ""
                })
    }

    /// An entry's header as a key line: `KIND MODE UID:GID SIZE MTIME PATH -> LINK DEV MAJOR,MINOR`,
    /// kind as its tar type letter, mode in octal.
    static func line(_ header: TarHeader) -> String {
        let kind = String(UnicodeScalar(header.kind.rawValue))
        return "\(kind) \(String(header.mode, radix: 8)) \(header.uid):\(header.gid) \(header.size) \(header.mtime) \(header.path)"
            + " -> \(header.linkTarget) dev \(header.deviceMajor),\(header.deviceMinor)"
    }

    private static func digest(_ lines: [String]) -> Digest { Digest.of(Array(lines.joined(separator: "\n").utf8)) }
}
