extension Catalog {
    /// The torch series the catalog has a final release of, oldest first.
    public var torchSeries: [TorchSeries] {
        Set(torch.filter { !$0.version.isPrerelease }.map { TorchSeries(of: $0.version) }).sorted()
    }

    /// The newest final release of `series`, or nil when the catalog has none.
    public func newestTorch(in series: TorchSeries) -> TorchRelease? {
        torch.filter { series.contains($0.version) }.max { $0.version < $1.version }
    }

    /// The release a spec's torch names: the newest of its series, or the exact release.
    public func torch(for component: TorchComponent) -> TorchRelease? {
        component.series.map(newestTorch(in:)) ?? torch(component.version)
    }

    /// Why a spec's torch (written at `place`) has no release in the catalog, as a sentence that
    /// lists what the catalog knows.
    func unknownTorch(_ component: TorchComponent, at place: String) -> String {
        if let series = component.series {
            return "torch \(series) (\(place)) is not a series the catalog knows; known series: "
                + torchSeries.map { "\($0)" }.joined(separator: ", ")
        }
        return "torch \(component.version) (\(place)) is not in the catalog; known: " + torch.map { "\($0.version)" }.joined(separator: ", ")
    }
}
