import Foundation
import OCI

/// `Images/NAME.lock.json`: every artifact of an image, exact. A build reads only this.
///
/// Canonical: keys sorted, artifacts sorted by component then name, no URLs, one timestamp
/// (`resolved`, kept when a re-lock pins the same artifacts); locking the same spec against the
/// same sources twice gives the same bytes.
public struct Lockfile: Codable, Hashable, Sendable {
    /// The format version this code writes.
    public static let currentVersion = 1

    /// The format version.
    public var lockVersion: Int
    /// The image name.
    public var image: String
    /// SHA-256 of the resolved spec (after `extends`), canonically encoded: a lock whose spec
    /// changed since is stale.
    public var specDigest: Digest
    /// The platform the artifacts are for.
    public var platform: String
    /// The version of each component.
    public var components: [String: String]
    /// Debian packages.
    public var debs: [LockedDeb]
    /// Wheels.
    public var wheels: [LockedWheel]
    /// When `lock` or `update` resolved these artifacts (UTC, to the second): the image's
    /// `created` date unless `SOURCE_DATE_EPOCH` is set. Optional: locks written before the
    /// field existed load, and their images keep the epoch as `created`.
    public var resolved: BuildTime?
    /// The resolutions of the spec's other platforms (`platforms:`), in the spec's order; the
    /// fields above are the first platform's. Absent for an image of one platform, so its lock
    /// keeps the bytes it had before the field existed.
    public var otherPlatforms: [PlatformResolution]?

    /// A lock.
    public init(
        image: String, specDigest: Digest, platform: String, components: [String: String], debs: [LockedDeb], wheels: [LockedWheel],
        resolved: BuildTime? = nil, otherPlatforms: [PlatformResolution]? = nil
    ) {
        self.lockVersion = Self.currentVersion
        self.image = image
        self.specDigest = specDigest
        self.platform = platform
        self.components = components
        self.debs = debs.sorted { ($0.component.rawValue, $0.name) < ($1.component.rawValue, $1.name) }
        self.wheels = wheels.sorted { ($0.component.rawValue, $0.name) < ($1.component.rawValue, $1.name) }
        self.resolved = resolved
        self.otherPlatforms = otherPlatforms
    }

    /// The platforms this lock resolves, the first one's fields at the top.
    public var platforms: [String] { [platform] + (otherPlatforms ?? []).map(\.platform) }

    /// The lock of one platform alone (no ``otherPlatforms``): what a build of that platform
    /// reads; nil when the lock does not resolve `platform`.
    public func forPlatform(_ platform: String) -> Lockfile? {
        if platform == self.platform {
            var copy = self
            copy.otherPlatforms = nil
            return copy
        }
        guard let other = otherPlatforms?.first(where: { $0.platform == platform }) else { return nil }
        return Lockfile(
            image: image, specDigest: specDigest, platform: other.platform, components: other.components, debs: other.debs,
            wheels: other.wheels, resolved: resolved)
    }

    /// Every platform's lock alone, in order.
    public var perPlatform: [Lockfile] { platforms.compactMap { forPlatform($0) } }

    /// One lock of several platforms' locks of the same spec (the first one's fields at the top).
    public static func combining(_ locks: [Lockfile]) -> Lockfile {
        precondition(!locks.isEmpty, "a lock resolves at least one platform")
        var first = locks[0]
        let others = locks.dropFirst().map {
            PlatformResolution(platform: $0.platform, components: $0.components, debs: $0.debs, wheels: $0.wheels)
        }
        first.otherPlatforms = others.isEmpty ? nil : others
        return first
    }

    /// Whether `other` pins the same things, whatever the two `resolved` dates.
    public func pinsTheSame(as other: Lockfile) -> Bool {
        var other = other
        other.resolved = resolved
        return self == other
    }

    /// The bytes written to disk: canonical, indented for diffs, ending in a newline.
    public func encoded() throws -> [UInt8] {
        Array((try CanonicalJSON.pretty(self) + "\n").utf8)
    }

    /// Reads a lock, refusing other format versions.
    public static func load(path: String) throws -> Lockfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpecError(file: path, line: nil, message: "no lock file; run `imagegen lock` first")
        }
        struct Version: Decodable { var lockVersion: Int? }
        let version = try? JSONDecoder().decode(Version.self, from: data)
        guard let found = version?.lockVersion else {
            throw SpecError(file: path, line: nil, message: "not an imagegen lock (no lockVersion)")
        }
        guard found == currentVersion else {
            throw SpecError(file: path, line: nil, message: "lockVersion \(found) is not supported (this imagegen reads \(currentVersion)); run `imagegen lock` again")
        }
        // The date first, so that a bad one is named as it is written, in one line.
        struct Resolved: Decodable { var resolved: String? }
        if let text = (try? JSONDecoder().decode(Resolved.self, from: data))?.resolved {
            do {
                _ = try BuildTime(rfc3339: text, name: "resolved")
            } catch {
                throw SpecError(file: path, line: nil, message: "\(error)")
            }
        }
        let lock: Lockfile
        do {
            lock = try CanonicalJSON.decode(Lockfile.self, from: Array(data), name: path)
        } catch {
            throw SpecError(file: path, line: nil, message: "\(error)")
        }
        var seen = Set<String>()
        for platform in lock.platforms where !seen.insert(platform).inserted {
            throw SpecError(file: path, line: nil, message: "otherPlatforms: platform '\(platform)' is resolved twice; run `imagegen lock \(lock.image)` again")
        }
        return lock
    }

    /// Whether this lock was made from `spec` as it is now (not stale): the same spec digest,
    /// and a resolution for each of the spec's platforms, in its order.
    public func matches(_ spec: ImageSpec) throws -> Bool {
        try image == spec.name && specDigest == Self.digest(of: spec) && platforms == spec.platformNames
    }

    /// The digest a spec has in a lock.
    public static func digest(of spec: ImageSpec) throws -> Digest {
        var normalised = spec
        normalised.locations = [:]  // where a value was written does not change the image
        return Digest.of(try CanonicalJSON.encode(normalised))
    }
}

/// One more platform's resolution in a multi-platform lock: what the top of the lock holds
/// for the first platform.
public struct PlatformResolution: Codable, Hashable, Sendable {
    /// `linux/arm64`.
    public var platform: String
    /// The version of each component on this platform.
    public var components: [String: String]
    /// Debian packages of this architecture (and `all`).
    public var debs: [LockedDeb]
    /// Wheels for this platform.
    public var wheels: [LockedWheel]

    /// A resolution; artifacts sorted as the lock sorts them.
    public init(platform: String, components: [String: String], debs: [LockedDeb], wheels: [LockedWheel]) {
        self.platform = platform
        self.components = components
        self.debs = debs.sorted { ($0.component.rawValue, $0.name) < ($1.component.rawValue, $1.name) }
        self.wheels = wheels.sorted { ($0.component.rawValue, $0.name) < ($1.component.rawValue, $1.name) }
    }
}

/// A locked Debian package.
public struct LockedDeb: Codable, Hashable, Sendable {
    /// The component whose layer it goes into (its raw value in the JSON).
    public var component: ComponentKind
    /// Package name.
    public var name: String
    /// Exact Debian version.
    public var version: String
    /// Architecture (`amd64`, `all`).
    public var architecture: String
    /// The `.deb` file name.
    public var fileName: String
    /// The archive path (`pool/main/…`), relative to any mirror of the same archive.
    public var path: String
    /// Size in bytes.
    public var size: Int64
    /// SHA-256 of the `.deb`.
    public var sha256: Digest

    /// A locked package.
    public init(component: ComponentKind, name: String, version: String, architecture: String, fileName: String, path: String, size: Int64, sha256: Digest) {
        self.component = component
        self.name = name
        self.version = version
        self.architecture = architecture
        self.fileName = fileName
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// A locked wheel.
public struct LockedWheel: Codable, Hashable, Sendable {
    /// The component whose layer it goes into (its raw value in the JSON).
    public var component: ComponentKind
    /// Normalised project name.
    public var name: String
    /// Exact version.
    public var version: String
    /// The wheel's file name.
    public var fileName: String
    /// Size in bytes.
    public var size: Int64
    /// SHA-256 of the wheel.
    public var sha256: Digest

    /// A locked wheel.
    public init(component: ComponentKind, name: String, version: String, fileName: String, size: Int64, sha256: Digest) {
        self.component = component
        self.name = name
        self.version = version
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
    }
}
