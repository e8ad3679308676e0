import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

/// How often and how patiently a request is retried after a connection error, a 5xx or a 429.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// The wait before the second attempt; it doubles each time, up to `maximumDelay`.
    public var initialDelay: Duration
    /// The longest wait between attempts.
    public var maximumDelay: Duration

    /// A policy; the default waits 0.5, 1, 2, 4 s between five attempts.
    public init(attempts: Int = 5, initialDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(8)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    func delay(afterAttempt attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, attempt) { delay = min(delay * 2, maximumDelay) }
        return delay
    }
}

/// A client of one registry (OCI distribution-spec v1.1): the `GET /v2/` probe, Basic and
/// Bearer authentication, blobs and manifests, retries with backoff. Every request body is
/// streamed from disk and every response body to disk or to a bounded buffer.
///
/// Use it inside ``withClient(registry:options:_:)``, which shuts the HTTP client down.
public final class RegistryClient: Sendable {
    /// What the client is allowed and asked to do.
    public struct Options: Sendable {
        /// Plain HTTP instead of TLS: only for a registry the user names as insecure.
        public var insecure = false
        /// CA certificates trusted for TLS in addition to the system's store (a private
        /// registry's CA); host names are verified all the same.
        public var caFile: CAFile?
        /// The credential, if any (see ``CredentialResolver``).
        public var credential: Credential?
        /// Retries.
        public var retry = RetryPolicy()
        /// Upload chunk size (raised to the registry's `OCI-Chunk-Min-Length`); blobs up to this
        /// size go in one PUT.
        public var chunkSize: Int64 = 64 << 20
        /// How long a connection may stay silent before the request counts as failed.
        public var readTimeout: Duration = .seconds(120)

        /// Defaults: TLS verified against the system's CAs, no credential, five attempts, 64 MiB chunks.
        public init() {}
    }

    /// `host[:port]`.
    public let registry: String
    /// `https://host` or `http://host`.
    let baseURL: String
    let http: HTTPClient
    let options: Options
    let auth: AuthState

    private init(registry: String, options: Options) {
        self.registry = registry
        let host = registry == "docker.io" ? "registry-1.docker.io" : registry
        self.baseURL = (options.insecure ? "http://" : "https://") + host
        self.options = options
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(20), read: .nanoseconds(Int64(options.readTimeout.components.seconds) * 1_000_000_000)))
        configuration.httpVersion = .automatic
        configuration.tlsConfiguration = Self.tlsConfiguration(options.caFile)
        // A failed connection fails its request at once, so that `send` decides: a refused
        // certificate is final, anything else is retried under `options.retry` (the pool would
        // otherwise retry quietly until the connect timeout, certificates included).
        configuration.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.auth = AuthState(registry: registry, credential: options.credential)
    }

    /// Runs `body` with a client of `registry`, then shuts the client down.
    public static func withClient<T: Sendable>(
        registry: String, options: Options, _ body: (RegistryClient) async throws -> T
    ) async throws -> T {
        let client = RegistryClient(registry: registry, options: options)
        do {
            let result = try await body(client)
            try? await client.http.shutdown()
            return result
        } catch {
            try? await client.http.shutdown()
            throw error
        }
    }

    // MARK: Requests

    /// A bounded response: status, headers and (small) body.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        /// The registry's error JSON (`{"errors":[{"code":…,"message":…}]}`) as one line.
        var errorDetail: String {
            if let items = errorItems, !items.isEmpty {
                return items.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: " ") }.joined(separator: "; ")
            }
            let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.split(separator: "\n").first.map(String.init) ?? ""
        }

        /// The distribution spec's error codes in the body (`DIGEST_INVALID`, `BLOB_UNKNOWN`…).
        var errorCodes: Set<String> { Set((errorItems ?? []).compactMap(\.code)) }

        /// The body's `errors` array, when it is the spec's error document.
        private var errorItems: [ErrorItem]? {
            struct Errors: Decodable { var errors: [ErrorItem]? }
            return (try? JSONDecoder().decode(Errors.self, from: Data(body)))?.errors
        }

        private struct ErrorItem: Decodable {
            var code: String?
            var message: String?
        }
    }

    /// The absolute URL for a path or for a `Location` the registry gave (which may be relative).
    func url(_ pathOrLocation: String) -> String {
        if pathOrLocation.hasPrefix("http://") || pathOrLocation.hasPrefix("https://") { return pathOrLocation }
        return baseURL + (pathOrLocation.hasPrefix("/") ? "" : "/") + pathOrLocation
    }

    /// Sends a request made by `make` (called again for each attempt, so a streamed body starts
    /// afresh), authenticating on a 401 challenge, and retrying connection errors, 5xx and 429
    /// with backoff. Returns the first other answer; its body is read when `readBody` says so
    /// (bounded by `limit`), else handed to `consume`.
    func send(
        _ operation: String, scopes: [String], attempts: Int? = nil, authorize: Bool = true,
        readLimit limit: Int = 4 << 20,
        consume: (@Sendable (HTTPClientResponse) async throws -> Void)? = nil,
        make: @Sendable () throws -> HTTPClientRequest
    ) async throws -> Reply {
        var attempt = 0
        var authenticated = !authorize
        let attempts = attempts ?? options.retry.attempts
        while true {
            attempt += 1
            var request = try make()
            request.headers.replaceOrAdd(name: "User-Agent", value: "imagegen")
            if authorize, let header = try await auth.header(for: scopes, client: self) { request.headers.replaceOrAdd(name: "Authorization", value: header) }
            let failure: TransportFailure
            do {
                let response = try await http.execute(request, deadline: .now() + .hours(12))
                let status = Int(response.status.code)
                if status == 401, !authenticated {
                    let challenge = response.headers["WWW-Authenticate"].compactMap(AuthChallenge.init(header:)).first
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    try await auth.respond(to: challenge, scopes: scopes, client: self)
                    authenticated = true
                    attempt -= 1
                    continue
                }
                if status >= 500 || status == 429 {
                    let body = (try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? []
                    let reply = Reply(status: status, headers: response.headers, body: body)
                    failure = .status(status, detail: reply.errorDetail)
                } else if (200..<300).contains(status), let consume {
                    do {
                        try await consume(response)
                    } catch let error as RegistryError {
                        throw error
                    } catch let error as OCIError {
                        throw error
                    } catch {
                        // A connection cut while the body streamed: retried like any other.
                        guard attempt < attempts else {
                            throw RegistryError.unavailable(operation: operation, attempts: attempt, failure: TransportFailure(error))
                        }
                        try await Task.sleep(for: options.retry.delay(afterAttempt: attempt))
                        continue
                    }
                    return Reply(status: status, headers: response.headers, body: [])
                } else {
                    let body = try await response.body.collect(upTo: limit)
                    let reply = Reply(status: status, headers: response.headers, body: Array(buffer: body))
                    if status == 401 || status == 403 {
                        throw await auth.refusal(status: status, scopes: scopes, detail: reply.errorDetail)
                    }
                    return reply
                }
            } catch let error as RegistryError {
                throw error
            } catch let error as HTTPClientError where [.invalidURL, .emptyHost, .emptyScheme].contains(error) {
                throw RegistryError.protocolViolation(operation: operation, reason: "\(error)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if let refusal = Self.certificateRefusal(error, url: request.url, caFile: options.caFile) { throw refusal }
                failure = TransportFailure(error)
            }
            guard attempt < attempts else {
                throw RegistryError.unavailable(operation: operation, attempts: attempt, failure: failure)
            }
            try await Task.sleep(for: options.retry.delay(afterAttempt: attempt))
        }
    }

    /// `GET /v2/`: checks that this is a registry and that the credentials are accepted.
    public func probe() async throws {
        let url = url("/v2/")
        let reply = try await send("GET \(registry)/v2/", scopes: []) { HTTPClientRequest(url: url) }
        guard reply.status == 200 else {
            throw RegistryError.refused(operation: "GET \(registry)/v2/", status: reply.status, detail: reply.errorDetail)
        }
    }

    /// `repository:NAME:ACTIONS`.
    static func scope(_ repository: String, push: Bool) -> String {
        "repository:\(repository):\(push ? "pull,push" : "pull")"
    }
}

/// What the client knows about authenticating to its registry: the scheme it asked for, the
/// Bearer tokens it holds per scope. Never logs or returns the secret except as a header.
actor AuthState {
    let registry: String
    let credential: Credential?
    private var basic = false
    private var bearer: AuthChallenge?
    /// Tokens by scope set; a fetch in flight is shared by the requests that need it.
    private var tokens: [String: Task<String, any Error>] = [:]

    init(registry: String, credential: Credential?) {
        self.registry = registry
        self.credential = credential
    }

    /// The `Authorization` value for a request needing `scopes`; once the registry has asked for
    /// Bearer tokens, a token for new scopes is fetched before the request rather than after a 401.
    func header(for scopes: [String], client: RegistryClient) async throws -> String? {
        if basic { return credential?.basicAuthorization }
        guard let bearer else { return nil }
        return "Bearer \(try await token(bearer, scopes: scopes, client: client))"
    }

    /// The token for `scopes`, fetched once (concurrent requests wait for the same fetch).
    private func token(_ challenge: AuthChallenge, scopes: [String], client: RegistryClient, fresh: Bool = false) async throws -> String {
        let key = scopes.joined(separator: " ")
        if fresh { tokens[key] = nil }
        let task = tokens[key] ?? Task { try await self.fetchToken(challenge, scopes: scopes, client: client) }
        tokens[key] = task
        do {
            return try await task.value
        } catch {
            tokens[key] = nil
            throw error
        }
    }

    /// Answers a 401's challenge: Basic needs the credential; Bearer gets a token for `scopes`.
    func respond(to challenge: AuthChallenge?, scopes: [String], client: RegistryClient) async throws {
        guard let challenge else {
            throw RegistryError.protocolViolation(operation: "authenticate to \(registry)", reason: "HTTP 401 without a WWW-Authenticate challenge")
        }
        switch challenge.scheme {
        case "basic":
            guard let credential else { throw RegistryError.credentialsRequired(registry: registry) }
            if credential.isIdentityToken {
                throw RegistryError.credentialSource(source: credential.source, reason: "holds an identity token, which a Basic-auth registry cannot take")
            }
            basic = true
        case "bearer":
            bearer = challenge
            _ = try await token(challenge, scopes: scopes, client: client, fresh: true)
        default:
            throw RegistryError.protocolViolation(operation: "authenticate to \(registry)", reason: "unsupported auth scheme '\(challenge.scheme)'")
        }
    }

    /// The error for a 401 or 403 that came after authenticating.
    func refusal(status: Int, scopes: [String], detail: String) -> RegistryError {
        let repository = scopes.first.map { $0.split(separator: ":").dropFirst().first.map(String.init) ?? $0 } ?? ""
        if status == 401, let credential, basic || scopes.isEmpty {
            return .credentialsRefused(registry: registry, user: credential.username, detail: "HTTP 401" + (detail.isEmpty ? "" : " \(detail)"))
        }
        if status == 401, credential == nil { return .credentialsRequired(registry: registry) }
        return .denied(registry: registry, repository: repository, detail: "HTTP \(status)" + (detail.isEmpty ? "" : " \(detail)"))
    }

    /// The token flow (distribution's token authentication): `GET realm?service=…&scope=…` with
    /// Basic credentials when we have them, or an OAuth2 refresh-token POST for an identity token.
    private func fetchToken(_ challenge: AuthChallenge, scopes: [String], client: RegistryClient) async throws -> String {
        guard let realm = challenge.parameters["realm"], realm.hasPrefix("http") else {
            throw RegistryError.protocolViolation(operation: "authenticate to \(registry)", reason: "a Bearer challenge without an http(s) realm")
        }
        let service = challenge.parameters["service"]
        let wanted = scopes.isEmpty ? (challenge.parameters["scope"].map { [$0] } ?? []) : scopes
        func encode(_ value: String) -> String {
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
        }
        var request: HTTPClientRequest
        if let credential, credential.isIdentityToken {
            request = HTTPClientRequest(url: realm)
            request.method = .POST
            var form = ["grant_type=refresh_token", "client_id=imagegen", "refresh_token=\(encode(credential.secret))"]
            if let service { form.append("service=\(encode(service))") }
            if !wanted.isEmpty { form.append("scope=\(encode(wanted.joined(separator: " ")))") }
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form.joined(separator: "&")))
        } else {
            var query = service.map { ["service=\(encode($0))"] } ?? []
            query += wanted.map { "scope=\(encode($0))" }
            request = HTTPClientRequest(url: realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
            if let credential { request.headers.add(name: "Authorization", value: credential.basicAuthorization) }
        }
        let operation = "token for \(registry) from \(realm.split(separator: "?").first ?? "")"
        let response = try await execute(request, operation: operation, client: client)
        let body = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        let status = Int(response.status.code)
        if status == 401 || status == 403 {
            guard let credential else { throw RegistryError.credentialsRequired(registry: registry) }
            throw RegistryError.credentialsRefused(registry: registry, user: credential.username, detail: "the token service answered HTTP \(status)")
        }
        guard status == 200 else {
            throw RegistryError.refused(operation: operation, status: status, detail: RegistryClient.Reply(status: status, headers: [:], body: body).errorDetail)
        }
        struct Token: Decodable { var token: String?; var access_token: String? }
        guard let token = try? JSONDecoder().decode(Token.self, from: Data(body)), let value = token.token ?? token.access_token, !value.isEmpty else {
            throw RegistryError.protocolViolation(operation: operation, reason: "the answer holds no token")
        }
        return value
    }

    /// Sends a token request, retrying connection errors under the client's retry policy (a
    /// refused certificate is final).
    private func execute(_ request: HTTPClientRequest, operation: String, client: RegistryClient) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.http.execute(request, deadline: .now() + .seconds(60))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if let refusal = RegistryClient.certificateRefusal(error, url: request.url, caFile: client.options.caFile) { throw refusal }
                guard attempt < client.options.retry.attempts else {
                    throw RegistryError.unavailable(operation: operation, attempts: attempt, failure: TransportFailure(error))
                }
                try await Task.sleep(for: client.options.retry.delay(afterAttempt: attempt))
            }
        }
    }
}
