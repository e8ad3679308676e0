import ArgumentParser
import Foundation
import Registry

/// How to reach and log in to a registry; shared by the commands that talk to one.
struct RegistryOptions: ParsableArguments {
    @Flag(help: "Talk plain HTTP to this registry (never TLS). Only for a registry you name as insecure, e.g. a local one.")
    var insecure = false

    @Option(help: ArgumentHelp(
        "A PEM file of CA certificates to trust for TLS, besides the system's (a private registry's CA). Default: $IMAGEGEN_REGISTRY_CA_FILE.",
        valueName: "path"))
    var caFile: String?

    @Option(help: "The user name to log in with; the password is read from stdin (--password-stdin).")
    var username: String?

    @Flag(help: "Read the password (or token) from standard input, one line. Never pass it as an argument.")
    var passwordStdin = false

    @Option(help: "Attempts per request before giving up (connection errors, HTTP 5xx and 429 are retried with backoff).")
    var retries: Int = 5

    @Option(help: "Blobs transferred at once.")
    var jobs: Int = 4

    @Option(help: "Upload chunk size in MiB (raised to the registry's OCI-Chunk-Min-Length); smaller blobs go in one request.")
    var chunkSize: Int = 64

    func validate() throws {
        if passwordStdin && username == nil {
            throw ValidationError("--password-stdin needs --username")
        }
        if username != nil && !passwordStdin {
            throw ValidationError("--username needs --password-stdin (the password is read from stdin, never from an argument)")
        }
        if insecure && caFile != nil {
            throw ValidationError("--ca-file is for TLS, and --insecure turns TLS off; give one or the other")
        }
        if caFile?.isEmpty == true { throw ValidationError("--ca-file: expected the path of a PEM file of CA certificates") }
        if retries < 1 { throw ValidationError("--retries \(retries): expected 1 or more") }
        if jobs < 1 { throw ValidationError("--jobs \(jobs): expected 1 or more") }
        if chunkSize < 1 { throw ValidationError("--chunk-size \(chunkSize): expected 1 or more (MiB)") }
    }

    /// The CA file from `--ca-file`, else from `IMAGEGEN_REGISTRY_CA_FILE` (unset or empty: none).
    /// Plain HTTP (`--insecure`) has no use for one, so the variable is ignored there.
    var caFilePath: String? {
        if insecure { return nil }
        if let caFile { return caFile }
        let variable = ProcessInfo.processInfo.environment["IMAGEGEN_REGISTRY_CA_FILE"] ?? ""
        return variable.isEmpty ? nil : variable
    }

    /// Client options for `registry`: the CA file, and the credential from the flags, the
    /// environment or the Docker config.
    func clientOptions(registry: String) throws -> RegistryClient.Options {
        try clientOptions(registries: [registry])[registry]!  // one entry per registry asked for
    }

    /// Client options for each of `registries` (a build may reach a cache, a mirror and a
    /// destination): `--password-stdin` is read once and serves them all.
    func clientOptions(registries: [String]) throws -> [String: RegistryClient.Options] {
        var explicit: Credential? = nil
        if let username, passwordStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("--password-stdin: standard input held no password")
            }
            explicit = Credential(username: username, secret: line, source: "--password-stdin")
        }
        let caFile = try caFilePath.map(CAFile.init(path:))
        var all: [String: RegistryClient.Options] = [:]
        for registry in registries {
            var options = RegistryClient.Options()
            options.insecure = insecure
            options.caFile = caFile
            options.credential = try CredentialResolver().credential(for: registry, explicit: explicit)
            options.retry = RetryPolicy(attempts: retries)
            options.chunkSize = Int64(chunkSize) << 20
            all[registry] = options
        }
        return all
    }

    /// Runs `body` with a client of each of `registries`, then shuts them down.
    func withClients<T: Sendable>(_ registries: [String], _ body: ([String: RegistryClient]) async throws -> T) async throws -> T {
        let options = try clientOptions(registries: registries)
        func open(_ remaining: ArraySlice<String>, _ opened: [String: RegistryClient]) async throws -> T {
            guard let registry = remaining.first else { return try await body(opened) }
            return try await RegistryClient.withClient(registry: registry, options: options[registry]!) { client in
                var opened = opened
                opened[registry] = client
                return try await open(remaining.dropFirst(), opened)
            }
        }
        return try await open(ArraySlice(Array(Set(registries)).sorted()), [:])
    }
}
