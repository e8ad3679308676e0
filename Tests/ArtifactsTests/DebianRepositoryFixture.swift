import Foundation
import TestSupport

/// A flat Debian repository made by the test: tiny packages built with `dpkg-deb --build`,
/// indexed with `apt-ftparchive`, for `deb [trusted=yes] http://127.0.0.1:PORT/ ./`.
///
/// - `imagegen-fixture-app` 1.0 (amd64): depends on `imagegen-fixture-lib (>= 1.0)`,
///   recommends `imagegen-fixture-tool`
/// - `imagegen-fixture-lib` 1.0 and 1:2.0 (all)
/// - `imagegen-fixture-base` 0.1 (all): `Essential: yes`
/// - `imagegen-fixture-tool` 3.1 (all): `Priority: required`
/// - `imagegen-fixture-broken` 1.0 (all): depends on a package no list has
struct DebianRepositoryFixture {
    struct Package {
        var name: String
        var version: String
        var architecture: String = "all"
        var extra: [String] = []

        /// Debian's pool name: the version without its epoch.
        var fileName: String {
            let upstream = version.split(separator: ":").last.map(String.init) ?? version
            return "\(name)_\(upstream)_\(architecture).deb"
        }
    }

    static let packages: [Package] = [
        Package(
            name: "imagegen-fixture-app", version: "1.0", architecture: "amd64",
            extra: ["Depends: imagegen-fixture-lib (>= 1.0)", "Recommends: imagegen-fixture-tool"]),
        Package(name: "imagegen-fixture-lib", version: "1.0"),
        Package(name: "imagegen-fixture-lib", version: "1:2.0"),
        Package(name: "imagegen-fixture-base", version: "0.1", extra: ["Essential: yes", "Priority: required"]),
        Package(name: "imagegen-fixture-tool", version: "3.1", extra: ["Priority: required"]),
        Package(name: "imagegen-fixture-broken", version: "1.0", extra: ["Depends: imagegen-fixture-missing"]),
    ]

    /// The repository's root, the directory to serve.
    let root: String

    /// Builds the packages and the index under `root`. With `withoutSHA256`, the `Packages`
    /// list carries no `SHA256` fields (as a repository that only has MD5 sums would).
    init(at root: String, withoutSHA256: Bool = false) throws {
        self.root = root
        for package in Self.packages {
            let tree = "\(root)/build/\(package.fileName)"
            let control = ([
                "Package: \(package.name)",
                "Version: \(package.version)",
                "Architecture: \(package.architecture)",
                "Maintainer: imagegen tests <tests@imagegen.invalid>",
            ] + package.extra + ["Description: \(package.name) for imagegen's tests", ""]).joined(separator: "\n")
            try writeFile("\(tree)/DEBIAN/control", control)
            try writeFile("\(tree)/usr/share/doc/\(package.name)/README", "\(package.name) \(package.version)\n")
            try FileManager.default.createDirectory(atPath: "\(root)/pool", withIntermediateDirectories: true)
            try Self.check(run("dpkg-deb", ["--root-owner-group", "--build", tree, "\(root)/pool/\(package.fileName)"]))
        }
        try FileManager.default.removeItem(atPath: "\(root)/build")

        var packages = try Self.check(run("apt-ftparchive", ["packages", "pool"], directory: root))
        if withoutSHA256 {
            packages = packages.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("SHA256:") }.joined(separator: "\n")
        }
        try writeFile("\(root)/Packages", packages)
        // Written after it is made, so that Release does not list a half-written Release.
        let release = try Self.check(run("apt-ftparchive", ["release", "."], directory: root))
        try writeFile("\(root)/Release", release)
    }

    /// The pool path of a package, relative to the root.
    func poolPath(_ name: String, _ version: String) -> String {
        "pool/" + Self.packages.first { $0.name == name && $0.version == version }!.fileName
    }

    /// `sha256sum`'s answer and the file's size, for a pool path.
    func expected(_ poolPath: String) throws -> (sha256: String, size: Int64) {
        let out = try Self.check(run("sha256sum", ["\(root)/\(poolPath)"]))
        let hex = String(out.prefix(64))
        let size = try FileManager.default.attributesOfItem(atPath: "\(root)/\(poolPath)")[.size] as! NSNumber
        return ("sha256:\(hex)", size.int64Value)
    }

    @discardableResult
    static func check(_ result: ProcessResult) throws -> String {
        guard result.status == 0 else { throw FixtureError(message: result.stderr) }
        return result.stdout
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
