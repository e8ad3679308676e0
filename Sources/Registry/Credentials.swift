import Foundation
import SystemSupport

/// A user name and a secret for one registry. The secret is never printed: `description`
/// names the user and where the credential came from.
public struct Credential: Hashable, Sendable, CustomStringConvertible {
    /// The user name (`<token>` for an identity token from `docker login` with OAuth).
    public var username: String
    /// The password, token or identity token.
    public var secret: String
    /// Where it came from, for messages (`--password-stdin`, `IMAGEGEN_REGISTRY_USER`, `~/.docker/config.json`).
    public var source: String

    /// A credential.
    public init(username: String, secret: String, source: String) {
        self.username = username
        self.secret = secret
        self.source = source
    }

    /// Whether this is an OAuth identity (refresh) token rather than a password.
    public var isIdentityToken: Bool { username == "<token>" }

    /// `user 'NAME' (from SOURCE)`: never the secret.
    public var description: String { "user '\(username)' (from \(source))" }

    /// The value of a Basic `Authorization` header.
    var basicAuthorization: String { "Basic " + Data("\(username):\(secret)".utf8).base64EncodedString() }
}

/// Finds the credential for a registry, first match wins: the one given on the command line,
/// then `IMAGEGEN_REGISTRY_USER` + `IMAGEGEN_REGISTRY_PASSWORD`, then the Docker config
/// (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): `credHelpers[host]`, `auths[host]`
/// (base64 `auth`, or `username`/`password`, or `identitytoken`), then `credsStore`.
public struct CredentialResolver: Sendable {
    /// The environment read for the variables and `DOCKER_CONFIG`/`HOME`.
    public var environment: [String: String]

    /// A resolver over `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The Docker config file this resolver reads.
    public var dockerConfigPath: String {
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty { return "\(directory)/config.json" }
        return "\(environment["HOME"] ?? NSHomeDirectory())/.docker/config.json"
    }

    /// The credential for `registry` (`host[:port]`), or nil when none is configured.
    public func credential(for registry: String, explicit: Credential? = nil) throws -> Credential? {
        if let explicit { return explicit }
        if let user = environment["IMAGEGEN_REGISTRY_USER"], !user.isEmpty {
            guard let password = environment["IMAGEGEN_REGISTRY_PASSWORD"] else {
                throw RegistryError.credentialSource(
                    source: "IMAGEGEN_REGISTRY_USER", reason: "is set but IMAGEGEN_REGISTRY_PASSWORD is not; set both or neither")
            }
            return Credential(username: user, secret: password, source: "IMAGEGEN_REGISTRY_USER")
        }
        return try dockerConfigCredential(for: registry)
    }

    /// The part of `~/.docker/config.json` imagegen reads.
    struct DockerConfig: Decodable {
        struct Auth: Decodable {
            var auth: String?
            var username: String?
            var password: String?
            var identitytoken: String?
        }
        var auths: [String: Auth]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    /// The keys a registry may have in `auths`: `host`, `https://host`, `http://host`, with or
    /// without a path; Docker Hub's is `https://index.docker.io/v1/`.
    static func normalised(_ key: String) -> String {
        var host = Substring(key)
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) { host = host.dropFirst(scheme.count) }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        let name = String(host)
        return ["index.docker.io", "registry-1.docker.io"].contains(name) ? "docker.io" : name
    }

    func dockerConfigCredential(for registry: String) throws -> Credential? {
        let path = dockerConfigPath
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let config: DockerConfig
        do {
            config = try JSONDecoder().decode(DockerConfig.self, from: data)
        } catch {
            throw RegistryError.credentialSource(source: path, reason: "not a Docker config file (expected JSON with 'auths', 'credHelpers' or 'credsStore')")
        }
        let wanted = Self.normalised(registry)
        if let helper = config.credHelpers?.first(where: { Self.normalised($0.key) == wanted })?.value {
            return try helperCredential(helper: helper, registry: registry)
        }
        if let entry = config.auths?.first(where: { Self.normalised($0.key) == wanted })?.value {
            if let token = entry.identitytoken, !token.isEmpty {
                return Credential(username: "<token>", secret: token, source: path)
            }
            if let auth = entry.auth, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                      let colon = decoded.firstIndex(of: ":")
                else {
                    throw RegistryError.credentialSource(
                        source: path, reason: "auths[\"\(registry)\"].auth is not base64 of 'user:password'")
                }
                return Credential(username: String(decoded[..<colon]), secret: String(decoded[decoded.index(after: colon)...]), source: path)
            }
            if let username = entry.username, let password = entry.password {
                return Credential(username: username, secret: password, source: path)
            }
        }
        if let store = config.credsStore, !store.isEmpty {
            return try helperCredential(helper: store, registry: registry)
        }
        return nil
    }

    /// `docker-credential-NAME get` with the registry on stdin; its JSON answer on stdout.
    func helperCredential(helper: String, registry: String) throws -> Credential? {
        let program = "docker-credential-\(helper)"
        let serverURL = registry == "docker.io" ? "https://index.docker.io/v1/" : registry
        // stdout and stderr are read at once, so a helper that fills its stderr pipe before it
        // answers does not wait for us while we wait for it; a helper that exits without
        // reading its input does not kill us with SIGPIPE.
        let output: ProcessOutput
        do {
            output = try Subprocess(program, ["get"], environment: environment, input: .bytes(Array(serverURL.utf8))).run()
        } catch SubprocessError.notFound {
            throw RegistryError.credentialSource(source: dockerConfigPath, reason: "names the credential helper '\(helper)', but \(program) is not on PATH")
        } catch {
            throw RegistryError.credentialSource(source: program, reason: "cannot run: \(error)")
        }
        let stdout = Data(output.stdout)
        if output.status != .exited(0) {
            let message = String(decoding: output.stdout + output.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            // The helper protocol's answer for "nothing stored for this server".
            if message.contains("credentials not found") { return nil }
            throw RegistryError.credentialSource(
                source: program, reason: "'get' exited with status \(output.status.code): \(message.split(separator: "\n").first ?? "")")
        }
        struct Answer: Decodable {
            var Username: String
            var Secret: String
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: stdout) else {
            throw RegistryError.credentialSource(source: program, reason: "'get' did not print {\"Username\":…,\"Secret\":…}")
        }
        return Credential(username: answer.Username, secret: answer.Secret, source: program)
    }
}
