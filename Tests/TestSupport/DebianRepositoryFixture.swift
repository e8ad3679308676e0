import Foundation

/// A flat Debian repository made by the test: tiny packages built with `dpkg-deb --build`,
/// indexed with `apt-ftparchive`, for `deb [trusted=yes] http://127.0.0.1:PORT/ ./`.
///
/// Each package holds one file, `/usr/share/doc/NAME/README`; its control file has the name,
/// version, architecture, a maintainer and a description, plus the package's `control` lines.
public struct DebianRepositoryFixture: Sendable {
    /// One package to build.
    public struct Package: Hashable, Sendable {
        /// The package name.
        public var name: String
        /// The Debian version, epoch included (`1:2.0`).
        public var version: String
        /// `all`, `amd64`, …
        public var architecture: String
        /// Further control-file lines, written as given: `Depends: a (>= 1.0)`,
        /// `Essential: yes`, `Priority: required`.
        public var control: [String]
        /// More files of the package, by path below the root (`usr/bin/hello`); a file under a
        /// `bin/` folder is executable (0755), the others 0644.
        public var files: [String: [UInt8]]

        /// A package to build.
        public init(name: String, version: String, architecture: String = "all", control: [String] = [], files: [String: [UInt8]] = [:]) {
            self.name = name
            self.version = version
            self.architecture = architecture
            self.control = control
            self.files = files
        }

        /// Debian's pool name: the version without its epoch.
        public var fileName: String {
            let upstream = version.split(separator: ":").last.map(String.init) ?? version
            return "\(name)_\(upstream)_\(architecture).deb"
        }
    }

    /// The packages the Artifacts tests resolve:
    ///
    /// - `imagegen-fixture-app` 1.0 (amd64): depends on `imagegen-fixture-lib (>= 1.0)`,
    ///   recommends `imagegen-fixture-tool`
    /// - `imagegen-fixture-lib` 1.0 and 1:2.0 (all)
    /// - `imagegen-fixture-base` 0.1 (all): `Essential: yes`
    /// - `imagegen-fixture-tool` 3.1 (all): `Priority: required`
    /// - `imagegen-fixture-broken` 1.0 (all): depends on a package no list has
    public static let defaultPackages: [Package] = [
        Package(
            name: "imagegen-fixture-app", version: "1.0", architecture: "amd64",
            control: ["Depends: imagegen-fixture-lib (>= 1.0)", "Recommends: imagegen-fixture-tool"]),
        Package(name: "imagegen-fixture-lib", version: "1.0"),
        Package(name: "imagegen-fixture-lib", version: "1:2.0"),
        Package(name: "imagegen-fixture-base", version: "0.1", control: ["Essential: yes", "Priority: required"]),
        Package(name: "imagegen-fixture-tool", version: "3.1", control: ["Priority: required"]),
        Package(name: "imagegen-fixture-broken", version: "1.0", control: ["Depends: imagegen-fixture-missing"]),
    ]

    /// The repository's root, the directory to serve.
    public let root: String
    /// The packages it holds.
    public let packages: [Package]

    /// Builds `packages` and the index under `root`. With `withoutSHA256`, the `Packages`
    /// list carries no `SHA256` fields (as a repository that only has MD5 sums would).
    public init(at root: String, packages: [Package] = Self.defaultPackages, withoutSHA256: Bool = false) throws {
        self.root = root
        self.packages = packages
        for package in packages {
            let tree = "\(root)/build/\(package.fileName)"
            let control = ([
                "Package: \(package.name)",
                "Version: \(package.version)",
                "Architecture: \(package.architecture)",
                "Maintainer: imagegen tests <tests@imagegen.invalid>",
            ] + package.control + ["Description: \(package.name) for imagegen's tests", ""]).joined(separator: "\n")
            try writeFile("\(tree)/DEBIAN/control", control)
            try writeFile("\(tree)/usr/share/doc/\(package.name)/README", "\(package.name) \(package.version)\n")
            for (path, bytes) in package.files {
                try writeFile("\(tree)/\(path)", bytes, mode: path.contains("bin/") ? 0o755 : 0o644)
            }
            try FileManager.default.createDirectory(atPath: "\(root)/pool", withIntermediateDirectories: true)
            try FixtureError.check(run("dpkg-deb", ["--root-owner-group", "--build", tree, "\(root)/pool/\(package.fileName)"]))
        }
        if FileManager.default.fileExists(atPath: "\(root)/build") { try FileManager.default.removeItem(atPath: "\(root)/build") }

        var index = try FixtureError.check(run("apt-ftparchive", ["packages", "pool"], directory: root))
        if withoutSHA256 {
            index = index.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("SHA256:") }.joined(separator: "\n")
        }
        try writeFile("\(root)/Packages", index)
        // Written after it is made, so that Release does not list a half-written Release.
        let release = try FixtureError.check(run("apt-ftparchive", ["release", "."], directory: root))
        try writeFile("\(root)/Release", release)
    }

    /// The pool path of a package, relative to the root.
    public func poolPath(_ name: String, _ version: String) throws -> String {
        guard let package = packages.first(where: { $0.name == name && $0.version == version }) else {
            throw FixtureError(message: "the fixture repository has no \(name) \(version)")
        }
        return "pool/" + package.fileName
    }

    /// `sha256sum`'s answer (`sha256:…`) and the file's size, for a pool path.
    public func expected(_ poolPath: String) throws -> (sha256: String, size: Int64) {
        try sha256sum("\(root)/\(poolPath)")
    }
}

/// A fixture that could not be made: the failing tool's own message.
public struct FixtureError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// An error with `message`.
    public init(message: String) { self.message = message }

    public var description: String { message }

    /// The output of a tool that succeeded; throws its standard error otherwise.
    @discardableResult
    public static func check(_ result: ProcessResult) throws -> String {
        guard result.status == 0 else { throw FixtureError(message: result.stderr) }
        return result.stdout
    }
}

/// `sha256sum`'s answer for a file, as `sha256:…`, and the file's size: an independent
/// account of the bytes that resolvers report.
public func sha256sum(_ path: String) throws -> (sha256: String, size: Int64) {
    let hex = String(try FixtureError.check(run("sha256sum", [path])).prefix(64))
    guard let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value else {
        throw FixtureError(message: "\(path): the file system gave no size")
    }
    return ("sha256:\(hex)", size)
}
