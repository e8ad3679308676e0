import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// The manifest media types imagegen asks for and accepts.
    static let manifestAccept = [
        MediaType.imageIndex, .imageManifest, .dockerManifestList, .dockerManifest,
    ].map(\.rawValue).joined(separator: ", ")

    /// A manifest or index as the registry holds it: its bytes, media type and digest.
    public struct FetchedManifest: Sendable {
        /// The exact bytes (their digest is the manifest's digest).
        public var bytes: [UInt8]
        /// The `Content-Type` (or the document's own `mediaType`).
        public var mediaType: MediaType
        /// The SHA-256 of `bytes`.
        public var digest: Digest
        /// A descriptor of it.
        public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)) }
    }

    /// `HEAD /v2/NAME/manifests/REF`: the digest a tag points to, or nil when the tag is absent.
    public func manifestDigest(_ repository: String, reference: String) async throws -> Digest? {
        let url = url("/v2/\(repository)/manifests/\(reference)")
        let operation = "HEAD \(registry)/\(repository):\(reference)"
        let reply = try await send(operation, scopes: [Self.scope(repository, push: false)]) {
            var request = HTTPClientRequest(url: url)
            request.method = .HEAD
            request.headers.add(name: "Accept", value: Self.manifestAccept)
            return request
        }
        switch reply.status {
        case 200:
            if let header = reply.headers.first(name: "Docker-Content-Digest"), let digest = try? Digest(parsing: header) { return digest }
            // A registry that does not name the digest: fetch and hash.
            return try await manifest(repository, reference: reference).digest
        case 404:
            return nil
        default:
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
    }

    /// `GET /v2/NAME/manifests/REF` (at most 4 MiB, as the distribution spec allows), checked
    /// against the digest when `reference` is one.
    public func manifest(_ repository: String, reference: String, push: Bool = false) async throws -> FetchedManifest {
        let url = url("/v2/\(repository)/manifests/\(reference)")
        let operation = "GET \(registry)/\(repository):\(reference)"
        let reply = try await send(operation, scopes: [Self.scope(repository, push: push)]) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: Self.manifestAccept)
            return request
        }
        if reply.status == 404 { throw RegistryError.notFound(reference: "\(registry)/\(repository)\(reference.contains(":") ? "@" : ":")\(reference)") }
        guard reply.status == 200 else { throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail) }
        let digest = Digest.of(reply.body)
        if let expected = try? Digest(parsing: reference), expected != Digest.of(reply.body, algorithm: expected.algorithm) {
            throw RegistryError.digestMismatch(what: operation, expected: expected.description, actual: digest.description)
        }
        struct Typed: Decodable { var mediaType: MediaType? }
        let declared = reply.headers.first(name: "Content-Type").flatMap { (value: String) -> MediaType? in
            try? MediaType(parsing: String(value.split(separator: ";").first ?? "").trimmingSpaces)
        }
        let own = (try? JSONDecoder().decode(Typed.self, from: Data(reply.body)))?.mediaType
        guard let mediaType = own ?? declared, mediaType.isIndex || mediaType.isManifest else {
            throw RegistryError.protocolViolation(operation: operation, reason: "not an image manifest or index (Content-Type \(declared?.rawValue ?? "none"))")
        }
        return FetchedManifest(bytes: reply.body, mediaType: mediaType, digest: digest)
    }

    /// `PUT /v2/NAME/manifests/REF` with the document's media type; checks the digest the
    /// registry reports. Retried: the same bytes under the same reference are idempotent.
    public func putManifest(_ repository: String, reference: String, bytes: [UInt8], mediaType: MediaType) async throws {
        _ = try await sendManifest(repository, reference: reference, bytes: bytes, mediaType: mediaType)
    }

    /// ``putManifest(_:reference:bytes:mediaType:)`` with the registry's answer, whose headers
    /// say more (`OCI-Subject`: the registry indexed the manifest's subject for the referrers API).
    func sendManifest(_ repository: String, reference: String, bytes: [UInt8], mediaType: MediaType) async throws -> Reply {
        let url = url("/v2/\(repository)/manifests/\(reference)")
        let operation = "PUT \(registry)/\(repository)\(reference.contains(":") ? "@" : ":")\(reference)"
        let body = bytes
        let reply = try await send(operation, scopes: [Self.scope(repository, push: true)]) {
            var request = HTTPClientRequest(url: url)
            request.method = .PUT
            request.headers.add(name: "Content-Type", value: mediaType.rawValue)
            request.headers.add(name: "Content-Length", value: "\(body.count)")
            request.body = .bytes(body)
            return request
        }
        guard reply.status == 201 || reply.status == 200 else {
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
        let digest = Digest.of(bytes)
        if let answered = reply.headers.first(name: "Docker-Content-Digest"), answered != digest.description {
            throw RegistryError.digestMismatch(what: operation, expected: digest.description, actual: answered)
        }
        return reply
    }
}
