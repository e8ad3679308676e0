import Foundation
import OCI
import FoundationNetworking

/// A package index read through its simple API, metadata only: a project's file list (the
/// PEP 691 JSON form, or the PEP 503 HTML page) and each wheel's PEP 658/714 `.metadata` file.
/// It never downloads a wheel.
public struct SimpleIndex: Sendable {
    /// One file a project page lists.
    public struct File: Hashable, Sendable {
        /// The file name (`torch-2.7.1-cp312-cp312-manylinux_2_28_x86_64.whl`).
        public var fileName: String
        /// Its URL, absolute, without the hash fragment.
        public var url: URL
        /// Its SHA-256 (hex), from the page; `nil` when the page gives none.
        public var sha256: String?
        /// Whether the index serves its core metadata at `url + ".metadata"` (PEP 658/714).
        public var hasMetadata: Bool
        /// The metadata file's SHA-256 (hex), when the page gives one.
        public var metadataSHA256: String?
        /// Whether the file is yanked (PEP 592).
        public var yanked: Bool

        /// The metadata file's URL.
        public var metadataURL: URL { URL(string: url.absoluteString + ".metadata") ?? url }
    }

    /// The index's base URL (`https://pypi.org/simple`), no trailing slash.
    public var baseURL: String

    /// An index at `url`.
    public init(url: String) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
    }

    /// The files of a project (its normalised name).
    public func files(of project: String, session: URLSession) async throws -> [File] {
        let pageURL = "\(baseURL)/\(project)/"
        guard let url = URL(string: pageURL) else { throw ArtifactsError.invalidRequest(value: pageURL, reason: "not a URL") }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 120)
        // PEP 691: the JSON form first, the HTML forms as fallbacks.
        request.setValue(
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            forHTTPHeaderField: "Accept")
        let (data, response) = try await Self.get(request, session: session)
        let base = response.url ?? url
        let type = response.value(forHTTPHeaderField: "Content-Type") ?? ""
        if type.contains("json") {
            return try Self.parseJSON(data, page: base)
        }
        return Self.parseHTML(String(decoding: data, as: UTF8.self), page: base)
    }

    /// A wheel's core metadata: its PEP 658 file, checked against the hash the page gives, or, when
    /// the index serves none, the `METADATA` member read from the wheel by range requests.
    public func metadata(of file: File, session: URLSession) async throws -> String {
        let url = file.hasMetadata ? file.metadataURL : file.url
        let text: String
        if file.hasMetadata {
            let (data, _) = try await Self.get(URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 120), session: session)
            if let expected = file.metadataSHA256, Digest.of(Array(data)).encoded != expected.lowercased() {
                throw ArtifactsError.malformedIndexData(
                    url: Self.redacted(url.absoluteString), reason: "its SHA-256 is not the \(expected) the project page names")
            }
            text = String(decoding: data, as: UTF8.self)
        } else if file.fileName.hasSuffix(".whl") {
            text = try await RemoteWheelMetadata.read(file, session: session)
        } else {
            throw ArtifactsError.malformedIndexData(
                url: Self.redacted(file.url.absoluteString),
                reason: "the index serves no metadata file for it (PEP 658) and it is not a wheel; refresh reads metadata only")
        }
        guard Self.header("Name", in: text) != nil, Self.header("Version", in: text) != nil else {
            throw ArtifactsError.malformedIndexData(
                url: Self.redacted(url.absoluteString), reason: "not a core metadata file (no Name and Version headers)")
        }
        return text
    }

    /// The values of a core metadata header (`Requires-Dist`), in order. Headers end at the
    /// first empty line (the description follows).
    public static func headers(_ name: String, in metadata: String) -> [String] {
        var values: [String] = []
        for line in metadata.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() else { continue }
            values.append(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return values
    }

    static func header(_ name: String, in metadata: String) -> String? { headers(name, in: metadata).first }

    static func get(_ request: URLRequest, session: URLSession, status: Int = 200) async throws -> (Data, HTTPURLResponse) {
        let name = redacted(request.url?.absoluteString ?? "?")
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw ArtifactsError.indexUnavailable(url: name, reason: error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else {
            throw ArtifactsError.indexUnavailable(url: name, reason: "not an HTTP response")
        }
        guard http.statusCode == status else {
            throw ArtifactsError.indexUnavailable(url: name, reason: "HTTP \(http.statusCode)")
        }
        return (data, http)
    }

    /// A URL without its user and password, for messages.
    public static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.user != nil || parts.password != nil else { return url }
        parts.user = nil
        parts.password = nil
        return parts.string ?? url
    }

    // MARK: - PEP 691 JSON

    struct ProjectJSON: Decodable {
        struct FileJSON: Decodable {
            var filename: String
            var url: String
            var hashes: [String: String]?
            var coreMetadata: MetadataFlag?
            var distInfoMetadata: MetadataFlag?
            var yanked: YankedFlag?

            enum CodingKeys: String, CodingKey {
                case filename, url, hashes, yanked
                case coreMetadata = "core-metadata"
                case distInfoMetadata = "dist-info-metadata"
            }
        }

        /// `true`/`false`, or a map of hashes (PEP 714).
        enum MetadataFlag: Decodable {
            case flag(Bool)
            case hashes([String: String])

            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let value = try? c.decode(Bool.self) { self = .flag(value) } else { self = .hashes(try c.decode([String: String].self)) }
            }

            var present: Bool { if case .flag(let value) = self { value } else { true } }
            var sha256: String? { if case .hashes(let map) = self { map["sha256"] } else { nil } }
        }

        /// `false`, or `true`/a reason.
        enum YankedFlag: Decodable {
            case flag(Bool)
            case reason(String)

            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let value = try? c.decode(Bool.self) { self = .flag(value) } else { self = .reason(try c.decode(String.self)) }
            }

            var yanked: Bool { if case .flag(let value) = self { value } else { true } }
        }

        var files: [FileJSON]
    }

    static func parseJSON(_ data: Data, page: URL) throws -> [File] {
        let project: ProjectJSON
        do {
            project = try JSONDecoder().decode(ProjectJSON.self, from: data)
        } catch {
            throw ArtifactsError.malformedIndexData(url: redacted(page.absoluteString), reason: "not a PEP 691 project page: \(error)")
        }
        return project.files.compactMap { file in
            guard let url = URL(string: file.url, relativeTo: page)?.absoluteURL else { return nil }
            let metadata = file.coreMetadata ?? file.distInfoMetadata
            return File(
                fileName: file.filename, url: withoutFragment(url), sha256: file.hashes?["sha256"],
                hasMetadata: metadata?.present ?? false, metadataSHA256: metadata?.sha256, yanked: file.yanked?.yanked ?? false)
        }
    }

    // MARK: - PEP 503 HTML

    static func parseHTML(_ html: String, page: URL) -> [File] {
        var files: [File] = []
        for match in html.matches(of: /<a\s+([^>]*)>([^<]*)<\/a>/.ignoresCase()) {
            let attributes = attributes(String(match.1))
            guard let href = attributes["href"], let url = URL(string: unescape(href), relativeTo: page)?.absoluteURL else { continue }
            let text = unescape(String(match.2)).trimmingCharacters(in: .whitespaces)
            let fileName = text.isEmpty ? url.lastPathComponent : text
            var sha256: String?
            if let fragment = url.fragment, fragment.hasPrefix("sha256=") { sha256 = String(fragment.dropFirst(7)) }
            let metadata = attributes["data-core-metadata"] ?? attributes["data-dist-info-metadata"]
            let metadataSHA = metadata.flatMap { $0.hasPrefix("sha256=") ? String($0.dropFirst(7)) : nil }
            files.append(
                File(
                    fileName: fileName, url: withoutFragment(url), sha256: sha256,
                    hasMetadata: metadata.map { $0 != "false" } ?? false, metadataSHA256: metadataSHA,
                    yanked: attributes["data-yanked"] != nil))
        }
        return files
    }

    /// An anchor's attributes; a bare attribute (`data-yanked`) has the empty string.
    static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for match in text.matches(of: /([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/) {
            result[String(match.1).lowercased()] = unescape(String(match.2 ?? match.3 ?? match.4 ?? ""))
        }
        return result
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&#x27;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func withoutFragment(_ url: URL) -> URL {
        guard var parts = URLComponents(url: url, resolvingAgainstBaseURL: true), parts.fragment != nil else { return url }
        parts.fragment = nil
        return parts.url ?? url
    }
}
