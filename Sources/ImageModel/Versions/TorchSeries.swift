/// A torch release series, `MAJOR.MINOR`: what a spec's two-part torch version (`2.7`) names,
/// meaning the newest `2.7.x` release the catalog knows.
public struct TorchSeries: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The major version, `2` in `2.7`.
    public let major: Int
    /// The minor version, `7` in `2.7`.
    public let minor: Int

    /// A series by its numbers.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// The series a spec's version names: a plain `MAJOR.MINOR` (no epoch, pre-, post-, dev-
    /// release or local label); nil for anything else, which pins a release exactly.
    public init?(spec version: PEP440Version) {
        guard version.release.count == 2, version.epoch == 0, version.pre == nil, version.post == nil, version.dev == nil,
              version.local == nil
        else { return nil }
        self.init(major: version.release[0], minor: version.release[1])
    }

    /// The series of a release: `2.7` for `2.7.1`.
    public init(of release: PEP440Version) {
        self.init(major: release.release.first ?? 0, minor: release.release.count > 1 ? release.release[1] : 0)
    }

    /// Whether `release` is a final release of this series (`2.7.1` is one of `2.7`; `2.7.1rc1` is not).
    public func contains(_ release: PEP440Version) -> Bool {
        !release.isPrerelease && release.epoch == 0 && Self(of: release) == self
    }

    /// `2.7`.
    public var description: String { "\(major).\(minor)" }

    /// Numeric order.
    public static func < (lhs: TorchSeries, rhs: TorchSeries) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }
}
