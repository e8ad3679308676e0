import Foundation
import ImageModel
import OCI

/// What changed between two locks of one image, package by package: `imagegen update` shows it.
public struct LockDiff: Codable, Hashable, Sendable {
    /// One artifact's change.
    public struct Change: Codable, Hashable, Sendable, CustomStringConvertible {
        /// `deb` or `wheel`.
        public var kind: String
        /// The component whose layer holds it.
        public var component: String
        /// The package or project name.
        public var name: String
        /// The version before, nil when added.
        public var old: String?
        /// The version after, nil when removed.
        public var new: String?
        /// The platform (`linux/arm64`), when either lock resolves more than one; nil otherwise.
        public var platform: String?

        /// `  deb  base  libssl3  3.0.15-1~deb12u1 → 3.0.16-1~deb12u1`.
        public var description: String {
            let change: String = switch (old, new) {
            case let (a?, b?): "\(a) → \(b)"
            case (nil, let b?): "added \(b)"
            case (let a?, nil): "removed \(a)"
            default: ""
            }
            return (platform.map { "\($0)  " } ?? "") + "\(kind.padding(toLength: 6, withPad: " ", startingAt: 0))\(component.padding(toLength: 10, withPad: " ", startingAt: 0))\(name)  \(change)"
        }
    }

    /// The changes, sorted by platform (the locks' order), component (layer order), kind and name.
    public var changes: [Change]

    /// Compares `old` with `new`; an artifact whose version and hash are equal is unchanged, one
    /// whose hash alone changed is listed as `VERSION → VERSION (rebuilt)`.
    public init(old: Lockfile, new: Lockfile) {
        struct Entry: Hashable { var platform: String; var kind: String; var component: String; var name: String }
        let several = old.platforms.count > 1 || new.platforms.count > 1
        func entries(_ lock: Lockfile) -> [Entry: (version: String, hash: String)] {
            var out: [Entry: (String, String)] = [:]
            for one in lock.perPlatform {
                let platform = several ? one.platform : ""
                for deb in one.debs {
                    out[Entry(platform: platform, kind: "deb", component: deb.component.rawValue, name: "\(deb.name):\(deb.architecture)")] = (deb.version, deb.sha256.description)
                }
                for wheel in one.wheels {
                    out[Entry(platform: platform, kind: "wheel", component: wheel.component.rawValue, name: wheel.name)] = (wheel.version, wheel.sha256.description)
                }
            }
            return out
        }
        let before = entries(old), after = entries(new)
        let platformOrder = old.platforms + new.platforms.filter { !old.platforms.contains($0) }
        func order(_ e: Entry) -> (Int, Int, String, String) {
            (platformOrder.firstIndex(of: e.platform) ?? 0, ComponentKind(rawValue: e.component)?.order ?? 99, e.kind, e.name)
        }
        changes = Set(before.keys).union(after.keys).sorted { order($0) < order($1) }.compactMap { entry in
            let a = before[entry], b = after[entry]
            if let a, let b, a.version == b.version, a.hash == b.hash { return nil }
            let rebuilt = a != nil && b != nil && a!.version == b!.version
            return Change(kind: entry.kind, component: entry.component, name: entry.name, old: a?.version,
                          new: b.map { rebuilt ? "\($0.version) (rebuilt)" : $0.version }, platform: several ? entry.platform : nil)
        }
    }

    /// Whether nothing changed.
    public var isEmpty: Bool { changes.isEmpty }
}
