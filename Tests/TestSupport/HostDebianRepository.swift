import Foundation
import Glibc

/// Repacks Debian packages installed on the host back into `.deb` files, so that a test can
/// build an image that really runs (the host's own `libc6`, `python3.11-minimal`, …) without
/// fetching anything.
///
/// A repacked package holds the host's control fields (`dpkg-query -W -f`), its files as
/// `dpkg -L` lists them and as they are on the host now (files removed since, such as
/// path-excluded documentation, are left out), and its control area from
/// `/var/lib/dpkg/info` (conffiles and md5sums of the files kept, maintainer scripts, shlibs,
/// symbols, triggers, debconf templates and config script). Owners are root (`dpkg-deb --root-owner-group`).
public enum HostPackageRepacker {
    /// The control fields copied into a repacked package, in the order Debian writes them.
    /// `Description` comes last: it is the only one that spans lines.
    static let fields = [
        "Package", "Source", "Version", "Architecture", "Essential", "Priority", "Section", "Multi-Arch", "Maintainer",
        "Installed-Size", "Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances", "Breaks", "Conflicts", "Replaces",
        "Provides", "Homepage",
    ]

    /// Control-area files kept from `/var/lib/dpkg/info/NAME.*`, and whether each is a script.
    static let controlFiles: [(name: String, script: Bool)] = [
        ("shlibs", false), ("symbols", false), ("triggers", false), ("templates", false), ("config", true),
        ("preinst", true), ("postinst", true), ("prerm", true), ("postrm", true),
    ]

    /// One installed package, as `dpkg-query` describes it.
    public struct Installed: Hashable, Sendable {
        /// The package name, without architecture.
        public var name: String
        /// Its version, epoch included.
        public var version: String
        /// `amd64`, `all`, …
        public var architecture: String
        /// `Multi-Arch: same` packages are named `NAME:ARCH` in dpkg's database.
        public var multiArchSame: Bool

        /// How dpkg names it in `/var/lib/dpkg/info` and on its command line.
        public var dpkgName: String { multiArchSame ? "\(name):\(architecture)" : name }

        /// Debian's pool name: `NAME_VERSION-WITHOUT-EPOCH_ARCH.deb`.
        public var fileName: String {
            let upstream = version.split(separator: ":", maxSplits: 1).last.map(String.init) ?? version
            return "\(name)_\(upstream)_\(architecture).deb"
        }
    }

    /// The installed package `name`, or an error naming it when the host does not have it.
    public static func installed(_ name: String) throws -> Installed {
        let result = try run("dpkg-query", ["-W", "-f", "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${Multi-Arch}\\n", name])
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("ii") }
        guard result.status == 0, let fields = line?.split(separator: "\t", omittingEmptySubsequences: false), fields.count == 5 else {
            throw FixtureError(message: "the host has no installed package \(name): \(result.stderr)")
        }
        return Installed(
            name: String(fields[1]), version: String(fields[2]), architecture: String(fields[3]), multiArchSame: fields[4] == "same")
    }

    /// `roots` and everything they depend on (`Depends`, `Pre-Depends`), as installed on the
    /// host: the first installed package of each alternative, a virtual package (`awk`) by its
    /// installed provider. Sorted by name.
    public static func closure(of roots: [String]) throws -> [Installed] {
        let providers = try installedProviders()
        var queue = roots
        var seen: [String: Installed] = [:]
        while let name = queue.popLast() {
            guard seen[name] == nil else { continue }
            let package = try installed(name)
            seen[name] = package
            let result = try FixtureError.check(run("dpkg-query", ["-W", "-f", "${Pre-Depends}, ${Depends}", package.dpkgName]))
            for group in result.split(separator: ",") {
                let alternatives = group.split(separator: "|").map { alternative in
                    // `libc6:any (>= 2.34)` → `libc6`
                    String(alternative.split(separator: "(")[0].split(separator: ":")[0]).trimmingCharacters(in: .whitespaces)
                }.filter { !$0.isEmpty }
                guard !alternatives.isEmpty else { continue }
                guard let chosen = alternatives.lazy.compactMap({ providers[$0] }).first else {
                    throw FixtureError(message: "\(name) depends on \(group.trimmingCharacters(in: .whitespaces)), which the host lacks")
                }
                queue.append(chosen)
            }
        }
        return seen.values.sorted { $0.name < $1.name }
    }

    /// Installed package names, each mapped to itself, and each virtual name to its first
    /// installed provider.
    static func installedProviders() throws -> [String: String] {
        let output = try FixtureError.check(run("dpkg-query", ["-W", "-f", "${db:Status-Abbrev}\\t${Package}\\t${Provides}\\n"]))
        var providers: [String: String] = [:]
        var virtual: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("ii") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let name = String(fields[1])
            providers[name] = name
            for provided in fields[2].split(separator: ",") {
                let virtualName = String(provided.split(separator: "(")[0]).trimmingCharacters(in: .whitespaces)
                if !virtualName.isEmpty, virtual[virtualName] == nil { virtual[virtualName] = name }
            }
        }
        return providers.merging(virtual) { real, _ in real }
    }

    /// Whether `path` is a top-level link that merged /usr made (`/lib` → `usr/lib`).
    static func isMergedUsrAlias(_ path: String) -> Bool {
        guard path.dropFirst().contains("/") == false, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else {
            return false
        }
        return target == "usr" + path || target == "/usr" + path
    }

    /// Repacks the installed package `package` into `directory/FILENAME.deb` and returns its
    /// path. The data is gzip-compressed at level 1: small enough, and quick to make.
    @discardableResult
    public static func repack(_ package: Installed, into directory: String) throws -> String {
        let fm = FileManager.default
        let tree = "\(directory)/.build-\(package.fileName)"
        try? fm.removeItem(atPath: tree)
        defer { try? fm.removeItem(atPath: tree) }
        try fm.createDirectory(atPath: "\(tree)/DEBIAN", withIntermediateDirectories: true)
        // dpkg-deb wants 0755..0775, whatever the umask of the process that runs the tests.
        chmod(tree, 0o755)
        chmod("\(tree)/DEBIAN", 0o755)

        // Files. A listed path that is a symlink on the host but has listed children is a
        // directory of the package that merged /usr turned into a link (`/lib` → `usr/lib`):
        // it becomes a directory again, and its children are read through the link. So does
        // such an alias listed without children (base-files ships `/bin`, `/lib`, `/sbin` as
        // empty directories): a package never ships the merged-/usr links themselves.
        let listing = try FixtureError.check(run("dpkg-query", ["-L", package.dpkgName]))
        let listed = listing.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") && $0 != "/." }
        var parents = Set<String>()
        for path in listed {
            var parent = path
            while let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
                parent = String(parent[..<slash])
                parents.insert(parent)
            }
        }
        var kept = Set<String>()
        for path in listed.sorted() {
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }  // removed from the host since
            let target = tree + path
            let mode = st.st_mode & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFLNK where parents.contains(path) || isMergedUsrAlias(path), S_IFDIR:
                try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
                if st.st_mode & S_IFMT == S_IFDIR { chmod(target, mode) }
            case S_IFLNK:
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try fm.createSymbolicLink(atPath: target, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: path))
                kept.insert(path)
            case S_IFREG:
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try fm.copyItem(atPath: path, toPath: target)
                guard chmod(target, mode) == 0 else { throw FixtureError(message: "chmod \(target): \(String(cString: strerror(errno)))") }
                kept.insert(path)
            default:
                continue
            }
        }

        // The control area.
        let format = fields.map { "\($0): ${\($0)}" }.joined(separator: "\\n") + "\\nDescription: ${Description}\\n"
        let fieldsText = try FixtureError.check(run("dpkg-query", ["-W", "-f", format, package.dpkgName]))
        // Empty fields are left out; continuation lines (the long description) stay.
        let control = fieldsText.split(separator: "\n").filter { line in
            line.hasPrefix(" ") || !line.trimmingCharacters(in: .whitespaces).hasSuffix(":")
        }.joined(separator: "\n") + "\n"
        try writeFile("\(tree)/DEBIAN/control", control)
        let info = "/var/lib/dpkg/info/\(package.dpkgName)"
        if let conffiles = try? String(contentsOfFile: "\(info).conffiles", encoding: .utf8) {
            let lines = conffiles.split(separator: "\n").filter { kept.contains(String($0)) }
            if !lines.isEmpty { try writeFile("\(tree)/DEBIAN/conffiles", lines.joined(separator: "\n") + "\n") }
        }
        if let md5sums = try? String(contentsOfFile: "\(info).md5sums", encoding: .utf8) {
            // `HASH  path/without/leading/slash`
            let lines = md5sums.split(separator: "\n").filter { line in
                line.split(separator: " ", maxSplits: 1).last.map { kept.contains("/" + $0.trimmingCharacters(in: .whitespaces)) } ?? false
            }
            if !lines.isEmpty { try writeFile("\(tree)/DEBIAN/md5sums", lines.joined(separator: "\n") + "\n") }
        }
        for (name, script) in controlFiles {
            guard let bytes = fm.contents(atPath: "\(info).\(name)") else { continue }
            try writeFile("\(tree)/DEBIAN/\(name)", [UInt8](bytes), mode: script ? 0o755 : 0o644)
        }

        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let deb = "\(directory)/\(package.fileName)"
        try FixtureError.check(run("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", tree, deb]))
        return deb
    }
}

/// A flat Debian repository of packages repacked from the host (``HostPackageRepacker``)
/// beside tiny made-up ones (``DebianRepositoryFixture``), indexed with `apt-ftparchive`, for
/// `deb [trusted=yes] http://127.0.0.1:PORT/ ./`.
public struct HostDebianRepository: Sendable {
    /// The repository's root, the directory to serve.
    public let root: String
    /// The packages repacked from the host.
    public let repacked: [HostPackageRepacker.Installed]
    /// The made-up packages.
    public let madeUp: [DebianRepositoryFixture.Package]

    /// Repacks `hostPackages` and their dependency closure (``HostPackageRepacker/closure(of:)``),
    /// builds `madeUp`, and indexes them all under `root`.
    public init(at root: String, hostPackages: [String], madeUp: [DebianRepositoryFixture.Package]) throws {
        self.root = root
        self.madeUp = madeUp
        repacked = try HostPackageRepacker.closure(of: hostPackages)
        let clash = Set(repacked.map(\.name)).intersection(madeUp.map(\.name))
        guard clash.isEmpty else { throw FixtureError(message: "both repacked and made up: \(clash.sorted())") }
        // The made-up packages and an index of them; the repacked ones join the pool, and the
        // index is made again over all of them.
        try FileManager.default.createDirectory(atPath: "\(root)/pool", withIntermediateDirectories: true)
        _ = try DebianRepositoryFixture(at: root, packages: madeUp)
        for package in repacked { try HostPackageRepacker.repack(package, into: "\(root)/pool") }
        try writeFile("\(root)/Packages", try FixtureError.check(run("apt-ftparchive", ["packages", "pool"], directory: root)))
        try FileManager.default.removeItem(atPath: "\(root)/Release")
        let release = try FixtureError.check(run("apt-ftparchive", ["release", "."], directory: root))
        try writeFile("\(root)/Release", release)
    }

    /// Every package name the repository holds.
    public var names: [String] { (repacked.map(\.name) + madeUp.map(\.name)).sorted() }
}
