import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// The tag under which a registry without the referrers API keeps the referrers of
    /// `subject`: `ALGORITHM-HEX`, cut to the 128 characters a tag may have (distribution-spec
    /// v1.1, "Referrers Tag Schema"), e.g. `sha256-7b5e…` for `sha256:7b5e…`.
    public static func referrersTag(for subject: Digest) -> String {
        String("\(subject.algorithm.rawValue)-\(subject.encoded)".prefix(128))
    }

    /// `GET /v2/NAME/referrers/DIGEST[?artifactType=…]`, page after page (`Link: <…>;
    /// rel="next"`): the descriptors of the image index the registry answers with, or nil when
    /// the registry has no referrers API — a 404 or, on the first page, an answer that is not
    /// an image index (distribution-spec v1.1, "Listing Referrers"). The registry may ignore
    /// the filter; the caller filters again.
    func referrersFromAPI(_ repository: String, of subject: Digest, artifactType: MediaType?) async throws -> [Descriptor]? {
        var next: String? = "/v2/\(repository)/referrers/\(subject)"
            + (artifactType.map { "?artifactType=" + ($0.rawValue.addingPercentEncoding(withAllowedCharacters: Self.queryValue) ?? $0.rawValue) } ?? "")
        var descriptors: [Descriptor] = []
        var pages = 0
        while let path = next {
            pages += 1
            let url = url(path)
            let operation = "GET \(registry)/\(repository) referrers of \(subject.short)"
            let reply = try await send(operation, scopes: [Self.scope(repository, push: false)]) {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: MediaType.imageIndex.rawValue)
                return request
            }
            if reply.status == 404, pages == 1 { return nil }
            guard reply.status == 200 else { throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail) }
            let declared = reply.headers.first(name: "Content-Type").flatMap { (value: String) -> MediaType? in
                try? MediaType(parsing: String(value.split(separator: ";").first ?? "").trimmingSpaces)
            }
            guard let index = try? JSONDecoder().decode(Index.self, from: Data(reply.body)),
                  (index.mediaType ?? declared) == .imageIndex
            else {
                // Some registries answer unknown paths with a 200 page of their own.
                if pages == 1 { return nil }
                throw RegistryError.protocolViolation(operation: operation, reason: "page \(pages) of the referrers is not an image index")
            }
            descriptors += index.manifests
            next = Self.nextPage(reply.headers.first(name: "Link"))
            if pages >= 100, next != nil {
                throw RegistryError.protocolViolation(operation: operation, reason: "more than 100 pages of referrers")
            }
        }
        return descriptors
    }

    /// Characters left as they are in a query value (RFC 3986 unreserved).
    static let queryValue = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    /// The target of a `Link` header's `rel="next"` (RFC 8288), as the referrers API and tag
    /// listing paginate: `<https://r.example/v2/…?n=10&last=…>; rel="next"`.
    static func nextPage(_ header: String?) -> String? {
        guard let header else { return nil }
        for link in header.split(separator: ",") {
            let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  parts.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "").lowercased() == "rel=next" })
            else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }
}
