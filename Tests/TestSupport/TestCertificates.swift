import Foundation

/// A server's TLS certificate and private key, PEM files.
public struct ServerCertificate: Sendable {
    /// The certificate.
    public var certificate: String
    /// Its private key (unencrypted).
    public var key: String
}

/// A certificate authority made for one test with `openssl` (P-256 keys, valid for two days),
/// which signs server certificates for the names a test wants.
public struct TestCertificateAuthority: Sendable {
    /// The CA's certificate (PEM): what a client is told to trust.
    public let certificate: String
    private let key: String
    private let directory: String

    /// A new CA, its files under `directory` (created).
    public init(directory: String, name: String = "imagegen test CA") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        certificate = "\(directory)/ca.pem"
        key = "\(directory)/ca.key"
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(name)", "-keyout", key, "-out", certificate,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// A server certificate signed by this CA, named `file` under the CA's directory, for
    /// `subjectAltName` (`IP:127.0.0.1,DNS:localhost`: the names a client may reach it by).
    public func issue(_ file: String, subjectAltName: String) throws -> ServerCertificate {
        let issued = ServerCertificate(certificate: "\(directory)/\(file).pem", key: "\(directory)/\(file).key")
        let request = "\(directory)/\(file).csr", extensions = "\(directory)/\(file).ext"
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=\(file)", "-keyout", issued.key, "-out", request,
        ])
        try writeFile(extensions, "subjectAltName=\(subjectAltName)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        try Self.openssl([
            "x509", "-req", "-in", request, "-CA", certificate, "-CAkey", key, "-CAcreateserial", "-days", "2",
            "-extfile", extensions, "-out", issued.certificate,
        ])
        return issued
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try run("openssl", arguments)
        guard result.status == 0 else {
            throw RegistryServerError(message: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)")
        }
    }
}
