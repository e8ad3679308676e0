import Foundation
import FoundationNetworking

/// Learns wheel sizes without downloading the wheels: an HTTP `HEAD` per URL
/// (`Content-Length`), or the file's size for a `file:` URL (pip's `find-links` folders).
enum WheelSizes {
    /// How many `HEAD` requests run at once.
    static let concurrency = 8

    /// The size of each file, keyed by file name.
    static func fetch(_ files: [(fileName: String, url: URL)]) async throws -> [String: Int64] {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        return try await withThrowingTaskGroup(of: (String, Int64).self) { group in
            var sizes: [String: Int64] = [:]
            var pending = files[...]
            func startNext() {
                guard let next = pending.popFirst() else { return }
                group.addTask { (next.fileName, try await size(of: next.url, fileName: next.fileName, session: session)) }
            }
            for _ in 0..<concurrency { startNext() }
            while let (name, size) = try await group.next() {
                sizes[name] = size
                startNext()
            }
            return sizes
        }
    }

    static func size(of url: URL, fileName: String, session: URLSession) async throws -> Int64 {
        if url.isFileURL {
            let attributes: [FileAttributeKey: Any]
            do {
                attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            } catch {
                throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: error.localizedDescription)
            }
            guard let size = (attributes[.size] as? NSNumber)?.int64Value else {
                throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: "the file system gave no size")
            }
            return size
        }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
        request.httpMethod = "HEAD"
        let response: URLResponse
        do {
            (_, response) = try await session.data(for: request)
        } catch {
            throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: "HEAD failed: \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: "not an HTTP response")
        }
        guard http.statusCode == 200 else {
            throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: "HEAD answered HTTP \(http.statusCode)")
        }
        if let header = http.value(forHTTPHeaderField: "Content-Length"), let size = Int64(header) {
            return size
        }
        guard http.expectedContentLength >= 0 else {
            throw ArtifactsError.sizeUnavailable(fileName: fileName, reason: "HEAD gave no Content-Length")
        }
        return http.expectedContentLength
    }
}
