extension Lockfile {
    /// The torch release the lock holds (its torch wheel's version), or nil without one.
    public var torchVersion: PEP440Version? {
        wheels.first { $0.name == "torch" }.flatMap { try? PEP440Version(parsing: $0.version) }
    }

    /// Why this lock is stale for `spec` and `catalog`, as a sentence that ends with what to
    /// run; nil when it is fresh. A lock is stale when the spec changed since it was made, or
    /// when the spec follows a torch series (`2.7`) and the catalog's newest release of the
    /// series is not the one the lock holds. Throws when the catalog does not know the series.
    public func staleness(for spec: ImageSpec, catalog: Catalog) throws -> String? {
        guard try matches(spec) else {
            return "stale, the spec changed since it was made; run `imagegen lock \(spec.name)`"
        }
        guard let torch = spec.torch, let series = torch.series else { return nil }
        guard let newest = catalog.newestTorch(in: series) else {
            throw ConflictError(image: spec.name, conflicts: [catalog.unknownTorch(torch, at: spec.whereIs("torch.version"))])
        }
        let held = torchVersion.map { "torch \($0)" } ?? "no torch"
        guard torchVersion?.publicVersion != newest.version.publicVersion else { return nil }
        return "stale, it holds \(held) but the newest \(series) release in the catalog is \(newest.version) (the spec follows "
            + "the \(series) series, \(spec.whereIs("torch.version"))); run `imagegen update \(spec.name)`"
    }

    /// What `update` says when it moves a series spec's lock to another release, given the lock
    /// it replaces: `torch 2.7 series → 2.7.1, the newest 2.7 release in the catalog (the lock held
    /// 2.7.0)`; nil when the spec pins torch exactly or the release did not change.
    public func seriesMove(from old: Lockfile, spec: ImageSpec) -> String? {
        guard let series = spec.torch?.series, let new = torchVersion, old.torchVersion?.publicVersion != new.publicVersion else {
            return nil
        }
        return "torch \(series) series → \(new), the newest \(series) release in the catalog (the lock held "
            + (old.torchVersion.map { "\($0)" } ?? "no torch") + ")"
    }
}
