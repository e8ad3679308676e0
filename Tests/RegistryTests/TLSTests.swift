import Foundation
import ImageGen
import OCI
import Registry
import TestSupport
import Testing

/// Registries over TLS, the default for every real one: a CA made by the test, docker-registry
/// serving a certificate it signed, behind htpasswd Basic auth, so that the registry's log shows
/// whether a request (and the credential with it) ever got past the handshake.
@Suite("registry TLS", .timeLimit(.minutes(6)))
struct TLSTests {
    static let user = (name: "pusher", password: "tls-Pa55word-42")
    static let goodNames = "IP:127.0.0.1,DNS:localhost"

    /// A CA under `scratch`, and a registry serving a certificate it signed for `names`.
    static func tlsRegistry(in scratch: ScratchDirectory, names: String = goodNames) throws -> (TestCertificateAuthority, RegistryServer) {
        let ca = try TestCertificateAuthority(directory: scratch("ca"))
        let registry = try RegistryServer(directory: scratch("registry"), user: user, tls: try ca.issue("registry", subjectAltName: names))
        return (ca, registry)
    }

    /// Client options for a TLS test registry: the test user, `caFile` trusted, `retry` as given.
    static func options(caFile: String?, retry: RetryPolicy = RetryPolicy(attempts: 5, initialDelay: .milliseconds(20))) throws -> RegistryClient.Options {
        var options = testClientOptions(credential: Credential(username: user.name, secret: user.password, source: "test"))
        options.insecure = false
        options.caFile = try caFile.map(CAFile.init(path:))
        options.retry = retry
        return options
    }

    /// The lines of the registry's log that record a request (every distribution path is under /v2/).
    static func requests(_ registry: RegistryServer) -> [Substring] {
        registry.log.split(separator: "\n").filter { $0.contains("/v2/") }
    }

    /// The environment of a CLI run: the test user's credential, no Docker config, and the CA
    /// variable unset unless given.
    static func environment(_ scratch: ScratchDirectory, caFile: String = "") -> [String: String] {
        ["IMAGEGEN_REGISTRY_USER": user.name, "IMAGEGEN_REGISTRY_PASSWORD": user.password, "DOCKER_CONFIG": scratch("none"),
         "IMAGEGEN_REGISTRY_CA_FILE": caFile]
    }

    @Test("push and pull over TLS with the test's CA, by IP address and by DNS name; skopeo, told the same CA, reads the image")
    func library() async throws {
        let scratch = try ScratchDirectory("imagegen-tls")
        let (ca, registry) = try Self.tlsRegistry(in: scratch)
        let image = try packTestImage(in: scratch)
        let options = try Self.options(caFile: ca.certificate)
        #expect(options.caFile?.count == 1)

        let report = try await push(scratch("image"), to: "\(registry.address)/tls/app", options: options)
        #expect(report.uploaded == 3)
        let byName = "localhost:\(registry.port)/tls/app:v1"
        let pulled = try await RegistryClient.withClient(registry: "localhost:\(registry.port)", options: options) { client in
            try await ImagePuller(client: client).pull(try ImageReference(parsing: byName), into: scratch("pulled"))
        }
        #expect(pulled.digest == image.manifest.digest)
        // The credential reached the registry over TLS: it authorized requests.
        #expect(registry.log.contains("authorized request"), "\(registry.log)")

        // An independent client, verifying TLS against the same CA (a directory of *.crt).
        try FileManager.default.createDirectory(atPath: scratch("certs"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ca.certificate, toPath: scratch("certs/ca.crt"))
        let inspected = try run("skopeo", [
            "inspect", "--cert-dir", scratch("certs"), "--creds", "\(Self.user.name):\(Self.user.password)",
            "--format", "{{.Digest}}", "docker://\(registry.address)/tls/app:v1",
        ])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == image.manifest.digest.description)
    }

    @Test("the CLI pushes with --ca-file and pulls with IMAGEGEN_REGISTRY_CA_FILE")
    func cli() throws {
        let scratch = try ScratchDirectory("imagegen-tls")
        let (ca, registry) = try Self.tlsRegistry(in: scratch)
        let image = try packTestImage(in: scratch)
        let to = "\(registry.address)/tls/cli"

        let pushed = try run(imagegenBinary, ["push", scratch("image"), "--to", to, "--ca-file", ca.certificate], environment: Self.environment(scratch))
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let pulled = try run(imagegenBinary, ["pull", "\(to):v1", "--out", scratch("pulled"), "--json"],
                             environment: Self.environment(scratch, caFile: ca.certificate))
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stdout.contains(image.manifest.digest.description), "\(pulled.stdout)")
        let verified = try run(imagegenBinary, ["verify", scratch("pulled")])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    /// A certificate TLS must refuse, and the message that says why.
    enum Refusal: String, CaseIterable, CustomTestStringConvertible {
        case noCA, otherCA, wrongName
        var testDescription: String { rawValue }
    }

    @Test("an untrusted certificate, one signed by another CA, and one for another name: one line, exit 1, no retry, no request reaches the registry",
          arguments: Refusal.allCases)
    func refused(_ refusal: Refusal) async throws {
        let scratch = try ScratchDirectory("imagegen-tls")
        let (_, registry) = try Self.tlsRegistry(in: scratch, names: refusal == .wrongName ? "DNS:other.example" : Self.goodNames)
        _ = try packTestImage(in: scratch)
        let caFile: String?
        switch refusal {
        case .noCA: caFile = nil
        case .otherCA: caFile = try TestCertificateAuthority(directory: scratch("other-ca"), name: "another CA").certificate
        case .wrongName: caFile = scratch("ca/ca.pem")
        }
        let expected: RegistryError = refusal == .wrongName
            ? .certificateNameMismatch(server: registry.address, host: "127.0.0.1")
            : .certificateUntrusted(server: registry.address, caFile: caFile)

        // The library: the refusal, though five attempts are allowed; a second attempt would come
        // after 120 s. (Not "within a second": at the start of the whole suite, with hundreds of
        // tests starting at once on 2 cores, the first refusal has taken up to a minute.)
        let started = ContinuousClock.now
        let error = await #expect(throws: RegistryError.self) {
            try await push(scratch("image"), to: "\(registry.address)/tls/app",
                           options: try Self.options(caFile: caFile, retry: RetryPolicy(attempts: 5, initialDelay: .seconds(120), maximumDelay: .seconds(120))))
        }
        #expect(error == expected)
        #expect(ContinuousClock.now - started < .seconds(110), "retried a refused certificate")

        // The CLI: the same line, exit 1.
        let arguments = ["push", scratch("image"), "--to", "\(registry.address)/tls/app"] + (caFile.map { ["--ca-file", $0] } ?? [])
        let cli = try run(imagegenBinary, arguments, environment: Self.environment(scratch))
        #expect(cli.status == 1)
        #expect(cli.stderr.trimmingCharacters(in: .whitespacesAndNewlines) == "Error: \(expected)", "\(cli.stderr)")

        // The registry received no request, so no credential: only failed handshakes.
        #expect(Self.requests(registry).isEmpty, "\(registry.log)")
        #expect(!registry.log.contains("authorized request"))
        if refusal != .wrongName {
            // (After a name mismatch the client completed the handshake and hung up, which Go does not log.)
            #expect(registry.log.contains("TLS handshake error"), "\(registry.log)")
        }
    }

    @Test("the messages say what to do", arguments: [
        (RegistryError.certificateUntrusted(server: "127.0.0.1:5443", caFile: nil),
         "127.0.0.1:5443: TLS certificate not trusted (no CA in the system store signed it, or it has expired); give the registry's CA with --ca-file or IMAGEGEN_REGISTRY_CA_FILE"),
        (RegistryError.certificateUntrusted(server: "registry.example", caFile: "/etc/ca.pem"),
         "registry.example: TLS certificate not trusted (no CA in /etc/ca.pem or in the system store signed it, or it has expired); check that /etc/ca.pem holds the CA that signed the registry's certificate"),
        (RegistryError.certificateNameMismatch(server: "127.0.0.1:5443", host: "127.0.0.1"),
         "127.0.0.1:5443: TLS certificate does not name 127.0.0.1 (no subject alternative name matches it); reach the registry by a name its certificate holds, or reissue the certificate with subjectAltName IP:127.0.0.1"),
        (RegistryError.certificateNameMismatch(server: "registry.example:5000", host: "registry.example"),
         "registry.example:5000: TLS certificate does not name registry.example (no subject alternative name matches it); reach the registry by a name its certificate holds, or reissue the certificate with subjectAltName DNS:registry.example"),
    ])
    func messages(error: RegistryError, text: String) {
        #expect(error.description == text)
    }

    /// A CA file that is not one, and the reason the error gives.
    static let badCAFiles: [(name: String, contents: String?, reason: String)] = [
        ("missing.pem", nil, "the CA file cannot be read (cannot open: No such file or directory)"),
        ("empty.pem", "", "not a CA file: expected PEM certificates (-----BEGIN CERTIFICATE-----), found an empty file"),
        ("notes.txt", "trust me\n", "not a CA file: expected PEM certificates (-----BEGIN CERTIFICATE-----), found no PEM block"),
        ("key.pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
         "not a CA file: expected PEM certificates (-----BEGIN CERTIFICATE-----), found a PEM PRIVATE KEY block and no certificate"),
        ("broken.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
         "not a CA file: expected PEM certificates (-----BEGIN CERTIFICATE-----), found a certificate block that does not parse"),
    ]

    @Test("a missing, empty or non-PEM CA file, by flag or variable: one line naming the file and what was expected, exit 1, before any connection",
          arguments: badCAFiles.indices)
    func badCAFile(_ index: Int) throws {
        let scratch = try ScratchDirectory("imagegen-tls")
        let bad = Self.badCAFiles[index]
        let path = scratch(bad.name)
        if let contents = bad.contents { try writeFile(path, contents) }
        #expect(throws: RegistryError.caFile(path: path, reason: bad.reason)) { try CAFile(path: path) }

        // Port 9 (discard) on loopback: nothing listens, and nothing is tried.
        let byFlag = try run(imagegenBinary, ["pull", "127.0.0.1:9/tls/app:v1", "--out", scratch("pulled"), "--ca-file", path], environment: Self.environment(scratch))
        let byVariable = try run(imagegenBinary, ["pull", "127.0.0.1:9/tls/app:v1", "--out", scratch("pulled")], environment: Self.environment(scratch, caFile: path))
        for result in [byFlag, byVariable] {
            #expect(result.status == 1)
            #expect(result.stderr == "Error: \(path): \(bad.reason)\n", "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch("pulled")))
    }

    @Test("--ca-file with --insecure is a usage error; IMAGEGEN_REGISTRY_CA_FILE is ignored for a plain-HTTP registry")
    func insecure() async throws {
        let scratch = try ScratchDirectory("imagegen-tls")
        let both = try run(imagegenBinary, ["pull", "127.0.0.1:9/tls/app:v1", "--out", scratch("pulled"), "--insecure", "--ca-file", scratch("ca.pem")])
        #expect(both.status == 64)
        #expect(both.stderr.contains("--ca-file is for TLS, and --insecure turns TLS off"), "\(both.stderr)")

        let registry = try RegistryServer(directory: scratch("registry"))
        _ = try packTestImage(in: scratch)
        let plain = try run(imagegenBinary, ["push", scratch("image"), "--to", "\(registry.address)/plain/app", "--insecure"],
                            environment: ["DOCKER_CONFIG": scratch("none"), "IMAGEGEN_REGISTRY_CA_FILE": scratch("missing.pem")])
        #expect(plain.status == 0, "\(plain.stderr)")
    }
}
