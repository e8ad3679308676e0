import Foundation
import ImageGen
import Layers
import OCI
import Registry
import Synchronization
import TestSupport
import Testing

/// A registry behind htpasswd (bcrypt) Basic auth; credentials from every source imagegen reads.
@Suite("registry credentials", .timeLimit(.minutes(6)))
struct AuthTests {
    static let user = (name: "pusher", password: "s3cret-Pa55word-xyz")

    @Test("the right credentials push (env vars, --password-stdin, Docker config auths, a credential helper); wrong ones fail clearly and the password is never printed")
    func credentials() async throws {
        let scratch = try ScratchDirectory("imagegen-auth")
        let registry = try RegistryServer(directory: scratch("registry"), user: Self.user)
        let image = try packTestImage(in: scratch)
        let to = "\(registry.address)/private/app"

        // Environment variables.
        let good = try run(imagegenBinary, ["push", scratch("image"), "--to", to, "--insecure"],
                           environment: ["IMAGEGEN_REGISTRY_USER": Self.user.name, "IMAGEGEN_REGISTRY_PASSWORD": Self.user.password, "DOCKER_CONFIG": scratch("none")])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try skopeoDigest("\(to):v1", creds: "\(Self.user.name):\(Self.user.password)") == image.manifest.digest.description)

        // Wrong password: one clear line, no secret in any output.
        let wrongPassword = "not-the-Pa55word-42"
        let wrong = try run(imagegenBinary, ["push", scratch("image"), "--to", to, "--insecure"],
                            environment: ["IMAGEGEN_REGISTRY_USER": Self.user.name, "IMAGEGEN_REGISTRY_PASSWORD": wrongPassword, "DOCKER_CONFIG": scratch("none")])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("\(registry.address): the registry refused the credentials of user 'pusher'"), "\(wrong.stderr)")
        for output in [wrong.stdout, wrong.stderr, good.stdout, good.stderr] {
            #expect(!output.contains(wrongPassword))
            #expect(!output.contains(Self.user.password))
            #expect(!output.contains(Data("\(Self.user.name):\(wrongPassword)".utf8).base64EncodedString()))
        }

        // No credentials at all.
        let none = try run(imagegenBinary, ["push", scratch("image"), "--to", to, "--insecure"], environment: ["DOCKER_CONFIG": scratch("none")])
        #expect(none.status == 1)
        #expect(none.stderr.contains("asks for credentials and none were found"), "\(none.stderr)")

        // --password-stdin (through a shell: our run() gives no stdin).
        let piped = try run("sh", ["-c", "printf '%s\\n' \"$PW\" | \"$BIN\" pull \"$REF\" --out \"$OUT\" --insecure --username pusher --password-stdin"],
                            environment: ["PW": Self.user.password, "BIN": imagegenBinary, "REF": "\(to):v1", "OUT": scratch("pulled"), "DOCKER_CONFIG": scratch("none")])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(!piped.stderr.contains(Self.user.password))

        // Docker config `auths` (base64 user:password), keyed as docker login writes it.
        let auth = Data("\(Self.user.name):\(Self.user.password)".utf8).base64EncodedString()
        try writeFile(scratch("docker/config.json"), #"{"auths":{"http://\#(registry.address)":{"auth":"\#(auth)"}}}"#)
        let fromConfig = try run(imagegenBinary, ["push", scratch("image"), "--to", "\(to)-2", "--insecure"], environment: ["DOCKER_CONFIG": scratch("docker")])
        #expect(fromConfig.status == 0, "\(fromConfig.stderr)")

        // A credential helper: docker-credential-NAME get, the registry on stdin.
        try writeFile(scratch("bin/docker-credential-imagegentest"), """
            #!/bin/sh
            read server
            [ "$1" = get ] && [ "$server" = "\(registry.address)" ] || { echo "credentials not found in native keychain"; exit 1; }
            printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$server" "\(Self.user.name)" "\(Self.user.password)"

            """, mode: 0o755)
        try writeFile(scratch("helper/config.json"), #"{"credHelpers":{"\#(registry.address)":"imagegentest"}}"#)
        let path = scratch("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let fromHelper = try run(imagegenBinary, ["push", scratch("image"), "--to", "\(to)-3", "--insecure"],
                                 environment: ["DOCKER_CONFIG": scratch("helper"), "PATH": path])
        #expect(fromHelper.status == 0, "\(fromHelper.stderr)")
        #expect(!fromHelper.stderr.contains(Self.user.password))

        // A chatty helper: 1 MiB on stderr before its answer (more than a pipe holds) must not
        // stall the push — both pipes are read at once.
        try writeFile(scratch("bin/docker-credential-imagegenchatty"), """
            #!/bin/sh
            read server
            head -c 1048576 /dev/zero | tr '\\0' x >&2
            printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$server" "\(Self.user.name)" "\(Self.user.password)"

            """, mode: 0o755)
        try writeFile(scratch("chatty/config.json"), #"{"credHelpers":{"\#(registry.address)":"imagegenchatty"}}"#)
        let chatty = try run(imagegenBinary, ["push", scratch("image"), "--to", "\(to)-4", "--insecure"],
                             environment: ["DOCKER_CONFIG": scratch("chatty"), "PATH": path], timeout: 60)
        #expect(chatty.status == 0, "\(chatty.stderr.suffix(300))")
    }

    @Test("the Docker config: auths keys with or without a scheme, identity tokens, credsStore, and a broken file named")
    func dockerConfig() throws {
        let scratch = try ScratchDirectory("imagegen-auth")
        let auth = Data("me:pw".utf8).base64EncodedString()
        try writeFile(scratch("a/config.json"), #"{"auths":{"https://registry.example:5000/v2/":{"auth":"\#(auth)"},"https://index.docker.io/v1/":{"identitytoken":"tok"}}}"#)
        let resolver = CredentialResolver(environment: ["DOCKER_CONFIG": scratch("a")])
        let found = try #require(try resolver.credential(for: "registry.example:5000"))
        #expect(found.username == "me" && found.secret == "pw")
        #expect(!found.description.contains("pw"))
        #expect(try resolver.credential(for: "docker.io")?.isIdentityToken == true)
        #expect(try resolver.credential(for: "other.example") == nil)

        let explicit = Credential(username: "x", secret: "y", source: "--password-stdin")
        #expect(try resolver.credential(for: "registry.example:5000", explicit: explicit) == explicit)
        let env = CredentialResolver(environment: ["DOCKER_CONFIG": scratch("a"), "IMAGEGEN_REGISTRY_USER": "u", "IMAGEGEN_REGISTRY_PASSWORD": "p"])
        #expect(try env.credential(for: "registry.example:5000")?.source == "IMAGEGEN_REGISTRY_USER")
        #expect(throws: RegistryError.self) {
            try CredentialResolver(environment: ["IMAGEGEN_REGISTRY_USER": "u"]).credential(for: "r.example")
        }

        try writeFile(scratch("b/config.json"), "{not json")
        let error = #expect(throws: RegistryError.self) { try CredentialResolver(environment: ["DOCKER_CONFIG": scratch("b")]).credential(for: "r.example") }
        #expect(error?.description.contains("\(scratch("b"))/config.json: not a Docker config file") == true)

        try writeFile(scratch("c/config.json"), #"{"credsStore":"imagegen-no-such-helper"}"#)
        let missing = #expect(throws: RegistryError.self) { try CredentialResolver(environment: ["DOCKER_CONFIG": scratch("c"), "PATH": "/usr/bin:/bin"]).credential(for: "r.example") }
        #expect(missing?.description.contains("docker-credential-imagegen-no-such-helper is not on PATH") == true, "\(String(describing: missing))")
    }

    @Test("WWW-Authenticate challenges parse: scheme, quoted values with commas, unquoted values")
    func challenges() throws {
        let bearer = try #require(AuthChallenge(header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#))
        #expect(bearer.scheme == "bearer")
        #expect(bearer.parameters == ["realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"])
        let basic = try #require(AuthChallenge(header: "Basic realm=imagegen-test"))
        #expect(basic.scheme == "basic")
        #expect(basic.parameters["realm"] == "imagegen-test")
        #expect(AuthChallenge(header: "  ") == nil)
    }

    @Test("image references: registry, repository, tag, digest; Docker Hub defaults; bad names named", arguments: [
        ("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "team/app", "v1"),
        ("ghcr.io/acme/pytorch", "ghcr.io", "acme/pytorch", nil),
        ("localhost/app:2.7.0-cuda12.6", "localhost", "app", "2.7.0-cuda12.6"),
        ("ubuntu:24.04", "docker.io", "library/ubuntu", "24.04"),
        ("acme/app", "docker.io", "acme/app", nil),
    ] as [(String, String, String, String?)])
    func references(value: String, registry: String, repository: String, tag: String?) throws {
        let reference = try ImageReference(parsing: value)
        #expect(reference.registry == registry)
        #expect(reference.repository == repository)
        #expect(reference.tag == tag)
    }

    @Test("bad references are refused with the part and the rule", arguments: [
        ("ghcr.io/Acme/app", "repository component 'Acme'"),
        ("ghcr.io/acme/app:-x", "tag '-x'"),
        ("ghcr.io/acme/app@sha256:abc", "invalid digest"),
        ("ghcr.io/a..b/app", "repository component 'a..b'"),
    ])
    func badReferences(value: String, message: String) {
        let error = #expect(throws: RegistryError.self) { try ImageReference(parsing: value) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }
}

/// The Bearer token flow, with the proxy as the token service and the gate in front of an
/// open registry: 401 with a challenge, a token fetched with Basic credentials for the scopes
/// the request needs, then the request again with the token.
@Suite("registry Bearer tokens", .timeLimit(.minutes(6)))
struct BearerTests {
    @Test("push and pull through the token flow; scopes name the repository; a dropped token request is retried; wrong credentials are refused by the token service")
    func bearer() async throws {
        let scratch = try ScratchDirectory("imagegen-bearer")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)
        let good = "Basic " + Data("robot:t0ken-pass".utf8).base64EncodedString()
        let port = Mutex(0)
        let dropToken = Mutex(true)
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            let realm = "http://127.0.0.1:\(port.withLock { $0 })/token"
            if request.path.hasPrefix("/token") {
                if dropToken.withLock({ drop in defer { drop = false }; return drop }) { return .drop }
                guard request.headers["authorization"] == good else { return .respond(401, [:], "") }
                let query = request.path.split(separator: "?").dropFirst().first.map(String.init) ?? ""
                let scopes = query.split(separator: "&").filter { $0.hasPrefix("scope=") }
                    .map { ($0.dropFirst(6).removingPercentEncoding ?? "") }
                guard query.contains("service=imagegen-test") else { return .respond(400, [:], "") }
                return .respond(200, ["Content-Type": "application/json"], #"{"token":"token \#(scopes.joined(separator: " "))"}"#)
            }
            let repository = request.path.hasPrefix("/v2/") && request.path != "/v2/"
                ? request.path.dropFirst(4).components(separatedBy: "/blobs/")[0].components(separatedBy: "/manifests/")[0] : ""
            let token = request.headers["authorization"] ?? ""
            let needed = repository.isEmpty ? "Bearer token" : "Bearer token repository:\(repository):"
            guard token.hasPrefix(needed) else {
                let scope = repository.isEmpty ? "" : #",scope="repository:\#(repository):pull""#
                return .respond(401, ["WWW-Authenticate": #"Bearer realm="\#(realm)",service="imagegen-test"\#(scope)"#], #"{"errors":[{"code":"UNAUTHORIZED"}]}"#)
            }
            return .pass
        }
        port.withLock { $0 = Int(proxy.address.split(separator: ":").last!)! }

        let credential = Credential(username: "robot", secret: "t0ken-pass", source: "test")
        let report = try await push(scratch("image"), to: "\(proxy.address)/bearer/app", options: testClientOptions(credential: credential))
        #expect(report.uploaded == 3)
        #expect(try skopeoDigest("\(registry.address)/bearer/app:v1") == image.manifest.digest.description)
        // The dropped token request was sent again; one token per scope set, not one per request.
        #expect(proxy.log.contains { $0.hasPrefix("GET /token") && $0.hasSuffix("-> drop") }, "\(proxy.log)")
        let tokenRequests = proxy.log.filter { $0.hasPrefix("GET /token") && !$0.hasSuffix("-> drop") }
        #expect(tokenRequests.count <= 3, "\(proxy.log)")
        #expect(tokenRequests.contains { $0.contains("scope=repository%3Abearer%2Fapp%3Apull%2Cpush") }, "\(tokenRequests)")

        let reference = try ImageReference(parsing: "\(proxy.address)/bearer/app:v1")
        let pulled = try await RegistryClient.withClient(registry: proxy.address, options: testClientOptions(credential: credential)) { client in
            try await ImagePuller(client: client).pull(reference, into: scratch("pulled"))
        }
        #expect(pulled.digest == image.manifest.digest)

        let wrong = Credential(username: "robot", secret: "wrong-pass-77", source: "test")
        let error = await #expect(throws: RegistryError.self) {
            try await push(scratch("image"), to: "\(proxy.address)/bearer/app", options: testClientOptions(credential: wrong))
        }
        let text = try #require(error).description
        #expect(text.contains("refused the credentials of user 'robot' (the token service answered HTTP 401)"), "\(text)")
        #expect(!text.contains("wrong-pass-77"))
        let anonymous = await #expect(throws: RegistryError.self) {
            try await push(scratch("image"), to: "\(proxy.address)/bearer/app", options: testClientOptions())
        }
        #expect(anonymous?.description.contains("asks for credentials and none were found") == true, "\(String(describing: anonymous))")
    }
}
