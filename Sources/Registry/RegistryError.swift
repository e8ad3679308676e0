import OCI

/// Errors from talking to a registry. Each is one line that names the registry, the
/// repository or the reference, and what to do; none ever holds a password or a token.
public enum RegistryError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A reference, repository or tag does not follow the distribution grammar.
    case invalidReference(value: String, reason: String)
    /// The registry wants credentials and none were found.
    case credentialsRequired(registry: String)
    /// The registry (or its token service) refused the credentials given.
    case credentialsRefused(registry: String, user: String, detail: String)
    /// The credentials were refused access to a repository (HTTP 403, or 401 with credentials).
    case denied(registry: String, repository: String, detail: String)
    /// A credential helper or the Docker config could not be read.
    case credentialSource(source: String, reason: String)
    /// The CA file named for TLS cannot be read or holds no PEM certificate.
    case caFile(path: String, reason: String)
    /// A server's TLS certificate chains to no trusted CA (or has expired); never retried.
    case certificateUntrusted(server: String, caFile: String?)
    /// A server's TLS certificate is trusted but does not name the host connected to; never retried.
    case certificateNameMismatch(server: String, host: String)
    /// A request failed after every retry (connection errors, 5xx, 429).
    case unavailable(operation: String, attempts: Int, failure: TransportFailure)
    /// The registry answered something the protocol does not allow.
    case protocolViolation(operation: String, reason: String)
    /// The registry refused a request (4xx other than auth), with its error code and message.
    case refused(operation: String, status: Int, detail: String)
    /// A manifest or tag is not in the repository.
    case notFound(reference: String)
    /// Bytes received do not hash to the digest asked for.
    case digestMismatch(what: String, expected: String, actual: String)
    /// Pushing would move a tag that points to another image.
    case tagWouldMove(reference: String, from: String, to: String)
    /// The image to push is incomplete or unreadable.
    case invalidImage(path: String, reason: String)
    /// A referrer's manifest names another subject than the image it was listed for (or none).
    case referrerSubjectMismatch(reference: String, expected: String, actual: String?)
    /// An attached document's bytes do not match the layer descriptor of its artifact manifest.
    case referrerDocumentMismatch(reference: String, expected: String, actual: String)
    /// A referrer is not an artifact manifest holding one document (OCI 1.1 referrers).
    case invalidReferrer(reference: String, reason: String)
    /// The referrers tag (`sha256-…`, the tag schema) holds something other than an image index.
    case referrersTagNotIndex(reference: String, mediaType: String)
    /// A referrer's manifest or its document is listed larger than imagegen reads into memory.
    case referrerTooLarge(reference: String, what: String, digest: String, size: Int64, limit: Int64)
    /// The referrers tag lost entries to other writers after each of `attempts` writes.
    case referrersTagContended(reference: String, attempts: Int, missing: [String])

    public var description: String {
        switch self {
        case .invalidReference(let value, let reason):
            return "invalid image reference '\(value)': \(reason)"
        case .credentialsRequired(let registry):
            return "\(registry): the registry asks for credentials and none were found; log in (docker login \(registry)), "
                + "set IMAGEGEN_REGISTRY_USER and IMAGEGEN_REGISTRY_PASSWORD, or pass --username with --password-stdin"
        case .credentialsRefused(let registry, let user, let detail):
            return "\(registry): the registry refused the credentials of user '\(user)' (\(detail)); check the user name and password"
        case .denied(let registry, let repository, let detail):
            return "\(registry)/\(repository): access denied (\(detail)); the credentials lack permission for this repository"
        case .credentialSource(let source, let reason):
            return "\(source): \(reason)"
        case .caFile(let path, let reason):
            return "\(path): \(reason)"
        case .certificateUntrusted(let server, nil):
            return "\(server): TLS certificate not trusted (no CA in the system store signed it, or it has expired); "
                + "give the registry's CA with --ca-file or IMAGEGEN_REGISTRY_CA_FILE"
        case .certificateUntrusted(let server, let caFile?):
            return "\(server): TLS certificate not trusted (no CA in \(caFile) or in the system store signed it, or it has expired); "
                + "check that \(caFile) holds the CA that signed the registry's certificate"
        case .certificateNameMismatch(let server, let host):
            let kind = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? "IP" : "DNS"
            return "\(server): TLS certificate does not name \(host) (no subject alternative name matches it); "
                + "reach the registry by a name its certificate holds, or reissue the certificate with subjectAltName \(kind):\(host)"
        case .unavailable(let operation, let attempts, let failure):
            return "\(operation): failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(failure)"
        case .protocolViolation(let operation, let reason):
            return "\(operation): unexpected answer from the registry: \(reason)"
        case .refused(let operation, let status, let detail):
            return "\(operation): the registry answered HTTP \(status)\(detail.isEmpty ? "" : ": \(detail)")"
        case .notFound(let reference):
            return "\(reference): not found in the registry"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what): expected \(expected), received bytes that hash to \(actual)"
        case .tagWouldMove(let reference, let from, let to):
            return "\(reference) points to \(from); pushing would move it to \(to). Tags are immutable: "
                + "push under a new tag, or pass --force to move it"
        case .invalidImage(let path, let reason):
            return "\(path): \(reason)"
        case .referrerSubjectMismatch(let reference, let expected, let actual):
            return "\(reference): the referrer's subject is \(actual ?? "missing"), expected \(expected); "
                + "it is listed among this image's referrers but is \(actual == nil ? "attached to no image" : "attached to another image")"
        case .referrerDocumentMismatch(let reference, let expected, let actual):
            return "\(reference): the attached document is not the one its manifest names: expected \(expected), "
                + "received \(actual); it was changed after it was attached"
        case .invalidReferrer(let reference, let reason):
            return "\(reference): \(reason)"
        case .referrersTagNotIndex(let reference, let mediaType):
            return "\(reference): the referrers tag holds a \(mediaType), expected an image index "
                + "(\(MediaType.imageIndex)) listing the referrers; move or delete that tag before attaching"
        case .referrerTooLarge(let reference, let what, let digest, let size, let limit):
            return "\(reference): the \(what) \(digest) is listed as \(size) bytes (\(ByteCount.text(size))), over the limit of "
                + "\(limit) bytes (\(ByteCount.text(limit))) for a referrer's \(what); it was not fetched"
        case .referrersTagContended(let reference, let attempts, let missing):
            return "\(reference): another writer replaced the referrers tag after each of \(attempts) writes, leaving out "
                + "\(missing.joined(separator: ", ")); attach again once the other pushes to this image are done"
        }
    }
}
