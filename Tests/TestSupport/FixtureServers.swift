import Foundation

/// A Debian repository and a PEP 503 wheel index (directories a fixture made), each served on
/// 127.0.0.1 by its own ``LocalHTTPServer``; both stop when this is dropped, whether the test
/// passed, failed or threw.
public final class FixtureServers {
    /// Serves the repository.
    public let repositoryServer: LocalHTTPServer
    /// Serves the index.
    public let indexServer: LocalHTTPServer

    /// Starts a server for `repository` and one for `index` (the directory holding `simple/`).
    public init(repository: String, index: String) throws {
        repositoryServer = try LocalHTTPServer(serving: repository)
        indexServer = try LocalHTTPServer(serving: index)
    }

    /// The repository as a one-line apt source: `deb [trusted=yes] http://127.0.0.1:PORT/ ./`.
    public var aptSource: String { "deb [trusted=yes] \(repositoryServer.baseURL)/ ./" }

    /// The index URL for pip: `http://127.0.0.1:PORT/simple`.
    public var indexURL: String { "\(indexServer.baseURL)/simple" }

    deinit {
        repositoryServer.stop()
        indexServer.stop()
    }
}
