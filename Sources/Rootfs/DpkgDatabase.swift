/// The dpkg database of a component tree (`var/lib/dpkg`, dpkg(1) "FILES"), written the way
/// dpkg leaves it after `dpkg --unpack` and `--configure`, so that `dpkg -l`, `dpkg -s`,
/// `dpkg -L` and a later `apt-get install` in the container see the packages as installed.
public enum DpkgDatabase {
    /// The database directory, relative to the tree's root.
    public static let directory = "var/lib/dpkg"

    /// Creates the database's skeleton if it is missing: `status`, `available`, `diversions`
    /// and `statoverride` (empty files), `info/format` (the multiarch layout, `1`) and the
    /// `info`, `updates`, `triggers`, `alternatives` and `parts` directories (dpkg refuses to
    /// run without `updates`; the rest are what dpkg, update-alternatives and apt expect to
    /// find). Existing files are left alone.
    public static func prepare(root: String) throws {
        let tree = try DebRootTree(root: root)
        for name in ["info", "updates", "triggers", "alternatives", "parts"] {
            try tree.makeDirectories("\(directory)/\(name)")
        }
        for name in ["status", "available", "diversions", "statoverride"] {
            if try !tree.exists("\(directory)/\(name)") { try tree.writeFile("\(directory)/\(name)", []) }
        }
        // The info database's layout version: without it dpkg assumes the pre-multiarch layout
        // and looks for `NAME.list` where a `Multi-Arch: same` package has `NAME:ARCH.list`.
        try tree.writeFile("\(directory)/info/format", "1\n")
    }

    /// Writes `var/lib/dpkg/status` listing `packages` as installed: each one's
    /// ``DebPackage/statusParagraph``, sorted by name and architecture, each followed by a
    /// blank line (as dpkg writes it). When two entries share a name and architecture, the
    /// later one in `packages` wins (a higher layer's version of a package).
    public static func writeStatus(root: String, packages: [DebPackage]) throws {
        try prepare(root: root)
        var byKey: [String: DebPackage] = [:]
        for package in packages { byKey["\(package.name) \(package.architecture)"] = package }
        let sorted = byKey.values.sorted { lhs, rhs in
            if lhs.name != rhs.name { return Array(lhs.name.utf8).lexicographicallyPrecedes(Array(rhs.name.utf8)) }
            return Array(lhs.architecture.utf8).lexicographicallyPrecedes(Array(rhs.architecture.utf8))
        }
        let text = sorted.map { $0.statusParagraph + "\n\n" }.joined()
        try DebRootTree(root: root).writeFile("\(directory)/status", text)
    }

    /// Writes a package's `info` files: `NAME.list` (the paths its data holds, in archive order,
    /// as dpkg records them), and `NAME.md5sums` and `NAME.conffiles` copied from its control
    /// archive when it has them.
    static func writeInfo(
        tree: DebRootTree, package: DebPackage, list: [String], md5sums: [UInt8]?, conffiles: [UInt8]?,
        other: [(name: String, bytes: [UInt8], executable: Bool)] = []
    ) throws {
        let info = "\(directory)/info/\(package.infoName)"
        // The maintainer scripts too: `dpkg --remove` and `--purge` in the container run them.
        for file in other.sorted(by: { $0.name < $1.name }) {
            try tree.writeFile(info + "." + file.name, file.bytes, mode: file.executable ? 0o755 : 0o644)
        }
        try tree.writeFile(info + ".list", list.map { $0 + "\n" }.joined())
        if let md5sums { try tree.writeFile(info + ".md5sums", md5sums) }
        if let conffiles { try tree.writeFile(info + ".conffiles", conffiles) }
    }
}
