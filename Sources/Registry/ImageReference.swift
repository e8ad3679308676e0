import OCI

/// `REGISTRY/REPOSITORY[:TAG][@DIGEST]` (distribution reference grammar). The registry part is
/// required to contain a dot or a port or to be `localhost`; otherwise the name is on Docker Hub
/// (`docker.io`, with `library/` before single-component names), as docker and skopeo read it.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host, with its port (`127.0.0.1:5000`, `ghcr.io`, `docker.io`).
    public var registry: String
    /// The repository path (`team/app`).
    public var repository: String
    /// The tag, when named.
    public var tag: String?
    /// The digest, when named.
    public var digest: Digest?

    /// A reference.
    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference, checking each part's grammar.
    public init(parsing value: String) throws {
        var rest = Substring(value)
        var digest: Digest? = nil
        if let at = rest.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            } catch {
                throw RegistryError.invalidReference(value: value, reason: "\(error)")
            }
            rest = rest[..<at]
        }
        var tag: String? = nil
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, !rest.isEmpty else {
            throw RegistryError.invalidReference(value: value, reason: "expected REGISTRY/REPOSITORY[:TAG][@DIGEST]")
        }
        var registry = "docker.io"
        if components.count > 1, let first = components.first, first.contains(".") || first.contains(":") || first == "localhost" {
            registry = first
            components.removeFirst()
        } else if components.count == 1 {
            components.insert("library", at: 0)
        }
        let repository = components.joined(separator: "/")
        try Self.checkRepository(repository, in: value)
        if let tag { try Self.checkTag(tag, in: value) }
        self.init(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// `path-component ::= [a-z0-9]+ (separator [a-z0-9]+)*`, `separator ::= [_.] | __ | [-]*`.
    static func checkRepository(_ repository: String, in value: String) throws {
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            let bytes = Array(component.utf8)
            let alnum: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
            guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last),
                  bytes.allSatisfy({ alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }),
                  !component.contains(".."), !component.contains("___"), !component.contains("._"), !component.contains("_.")
            else {
                throw RegistryError.invalidReference(
                    value: value,
                    reason: "repository component '\(component)' must be lowercase letters and digits, separated by '.', '_', '__' or '-'")
            }
        }
        guard repository.utf8.count <= 255 else {
            throw RegistryError.invalidReference(value: value, reason: "the repository name is over 255 characters")
        }
    }

    /// `tag ::= [\w][\w.-]{0,127}`.
    static func checkTag(_ tag: String, in value: String) throws {
        let word: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, word(first), bytes.count <= 128, bytes.allSatisfy({ word($0) || $0 == 0x2E || $0 == 0x2D }) else {
            throw RegistryError.invalidReference(value: value, reason: "tag '\(tag)' must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
        }
    }

    /// Checks a tag given on its own (from an image's index).
    public static func validateTag(_ tag: String) throws { try checkTag(tag, in: tag) }

    /// The tag or digest a manifest request names.
    public var reference: String? { digest?.description ?? tag }

    /// `registry/repository[:tag][@digest]`.
    public var description: String {
        "\(registry)/\(repository)" + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }

    /// This repository with another tag and no digest.
    public func with(tag: String) -> ImageReference { ImageReference(registry: registry, repository: repository, tag: tag) }

    /// This repository at a digest, no tag.
    public func with(digest: Digest) -> ImageReference { ImageReference(registry: registry, repository: repository, digest: digest) }

    /// The host requests go to (`docker.io` is served by `registry-1.docker.io`).
    public var endpointHost: String { registry == "docker.io" ? "registry-1.docker.io" : registry }
}
