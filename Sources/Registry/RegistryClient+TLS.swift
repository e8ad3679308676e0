import Foundation
import NIOSSL
import OCI

/// A PEM file of CA certificates that a registry's TLS certificate may chain to, read once,
/// where the user names it (`--ca-file`, `IMAGEGEN_REGISTRY_CA_FILE`). These CAs are trusted in
/// addition to the system's store, not instead of it: a registry's token service or blob
/// storage often sits on a public host whose certificate only the system store vouches for.
public struct CAFile: Sendable {
    /// The file, as the user named it (for messages).
    public let path: String
    /// How many certificates it holds (one or more).
    public var count: Int { certificates.count }
    let certificates: [NIOSSLCertificate]

    /// The largest CA file read; a bundle of every public CA is about 200 KiB.
    static let sizeLimit = 4 << 20

    /// Reads the PEM certificates in `path`; an unreadable file, or one that holds no
    /// `-----BEGIN CERTIFICATE-----` block, is refused with a ``RegistryError/caFile(path:reason:)``.
    public init(path: String) throws {
        self.path = path
        let bytes: [UInt8]
        do {
            bytes = try FileReader.readAll(path: path, limit: Self.sizeLimit)
        } catch let OCIError.io(_, reason) {
            throw RegistryError.caFile(path: path, reason: "the CA file cannot be read (\(reason))")
        }
        let expected = "expected PEM certificates (-----BEGIN CERTIFICATE-----)"
        // BoringSSL reads PEM blocks until the first that is not a certificate; anything else
        // (DER, a private key, text) is an error or no certificate at all.
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes), !certificates.isEmpty else {
            throw RegistryError.caFile(path: path, reason: "not a CA file: \(expected), found \(Self.describeContent(bytes))")
        }
        self.certificates = certificates
    }

    /// What a file holds instead of certificates, in a few words.
    static func describeContent(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "an empty file" }
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        if let begin = text.range(of: "-----BEGIN ") {
            let label = text[begin.upperBound...].prefix { $0 != "-" && $0 != "\n" }
            return label == "CERTIFICATE" ? "a certificate block that does not parse" : "a PEM \(label) block and no certificate"
        }
        return bytes.first == 0x30 ? "binary data (DER? convert it with openssl x509 -inform der)" : "no PEM block"
    }
}

extension RegistryClient {
    /// TLS as every registry gets it: the system's CAs, plus those of `caFile`, and host-name
    /// verification against the name or IP address in the reference (RFC 6125).
    static func tlsConfiguration(_ caFile: CAFile?) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let caFile { tls.additionalTrustRoots = [.certificates(caFile.certificates)] }
        return tls
    }

    /// The error for a certificate that TLS refused while connecting to `url`, or nil when
    /// `error` is something else. Such a refusal is final: it is not retried, and since the
    /// handshake never completed, no request (and no credential) was sent.
    static func certificateRefusal(_ error: any Error, url: String, caFile: CAFile?) -> RegistryError? {
        guard let parsed = URL(string: url), let host = parsed.host else { return nil }
        let server = parsed.port.map { "\(host):\($0)" } ?? host
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return .certificateNameMismatch(server: server, host: host)
        }
        if case NIOSSLError.handshakeFailed(let reason) = error, "\(reason)".contains("CERTIFICATE_VERIFY_FAILED") {
            return .certificateUntrusted(server: server, caFile: caFile?.path)
        }
        return nil
    }
}
