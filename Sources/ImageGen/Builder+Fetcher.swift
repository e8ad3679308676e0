import Artifacts
import ImageModel

extension Builder.Options {
    /// The fetcher these options describe (cache, artifact mirror, apt sources, pip index and command), for a
    /// spec's architecture and Python.
    public func fetcher(for spec: ImageSpec) throws -> ArtifactFetcher {
        let cache = try ArtifactCache(directory: "\(cacheDirectory)/artifacts")
        var fetcher = ArtifactFetcher(
            cache: cache, stateDirectory: "\(cacheDirectory)/apt", architecture: spec.base.architecture, aptSources: aptSources)
        fetcher.pythonVersion = spec.python.map { "\($0.version.majorMinor)" } ?? "3"
        fetcher.pipIndexURL = pipIndexURL
        fetcher.pipExtraIndexURLs = pipExtraIndexURLs
        fetcher.pipUsesHostConfiguration = pipUsesHostConfiguration
        fetcher.pipCommand = pipCommand
        fetcher.mirror = artifactMirror
        return fetcher
    }
}
