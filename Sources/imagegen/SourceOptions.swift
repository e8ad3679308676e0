import ArgumentParser
import Artifacts
import Foundation
import ImageGen
import ImageModel

/// Where packages come from and where the cache lives; shared by `lock` and `build`.
/// Unset, sources are the host's apt and pip configuration.
struct SourceOptions: ParsableArguments {
    @Option(help: "apt sources: a sources file, or one-line 'deb …' entries (default: the host's; also $IMAGEGEN_APT_SOURCES).")
    var aptSources: String?

    @Option(help: "The pip index URL (default: pip's own configuration; also $IMAGEGEN_PIP_INDEX_URL).")
    var indexURL: String?

    @Option(help: "An extra pip index URL; repeat for several.")
    var extraIndexURL: [String] = []

    @Flag(help: "Ignore the host's pip configuration (pip.conf, PIP_* variables): only --index-url and --extra-index-url count.")
    var noPipConfig = false

    @OptionGroup var cacheOption: CacheOption

    /// The apt sources, from the flag, the environment, or the host.
    var apt: AptResolver.Sources {
        (aptSources ?? ProcessInfo.processInfo.environment["IMAGEGEN_APT_SOURCES"]).map(AptResolver.Sources.init(argument:)) ?? .host
    }

    /// The pip index, from the flag or the environment.
    var pipIndexURL: String? { indexURL ?? ProcessInfo.processInfo.environment["IMAGEGEN_PIP_INDEX_URL"] }

    /// The cache directory.
    var cacheDirectory: String { cacheOption.cacheDirectory }
}

/// Where fetched artifacts and built layers are kept.
struct CacheOption: ParsableArguments {
    @Option(help: "The cache directory (default: $XDG_CACHE_HOME/imagegen).")
    var cache: String?

    /// The cache directory.
    var cacheDirectory: String {
        cache ?? "\(ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? "\(NSHomeDirectory())/.cache")/imagegen"
    }
}

/// What `lock`, `update` and `new` resolve with: the sources and the pip to run.
struct ResolveOptions: ParsableArguments {
    @OptionGroup var sources: SourceOptions

    @Option(help: "The pip command to resolve with, e.g. 'python3 -m pip' (default: a current pip kept in the cache).")
    var pip: String?

    /// Options for a ``Locker`` over these sources and this pip (default: a current pip kept in
    /// the cache).
    func lockerOptions(images: String, catalog: Catalog) async -> Locker.Options {
        var options = Locker.Options(images: images, catalog: catalog, cacheDirectory: sources.cacheDirectory)
        options.aptSources = sources.apt
        options.pipIndexURL = sources.pipIndexURL
        options.pipExtraIndexURLs = sources.extraIndexURL
        options.pipUsesHostConfiguration = !sources.noPipConfig
        if let pip {
            options.pipCommand = pip.split(separator: " ").map(String.init)
        } else {
            options.pipCommand = await PipTool.current(cacheDirectory: options.cacheDirectory, progress: { Console.status($0) })
        }
        return options
    }
}
