import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// How a blob got into the repository.
    public enum BlobOutcome: String, Codable, Sendable {
        /// It was there already (`HEAD` answered 200).
        case existed
        /// It was mounted from another repository of the same registry.
        case mounted
        /// Its bytes were sent.
        case uploaded
    }

    /// `HEAD /v2/NAME/blobs/DIGEST`: whether the repository holds the blob.
    public func blobExists(_ repository: String, _ digest: Digest) async throws -> Bool {
        let url = url("/v2/\(repository)/blobs/\(digest)")
        let reply = try await send("HEAD \(registry)/\(repository) blob \(digest.short)", scopes: [Self.scope(repository, push: true)]) {
            var request = HTTPClientRequest(url: url)
            request.method = .HEAD
            return request
        }
        switch reply.status {
        case 200: return true
        case 404: return false
        default:
            throw RegistryError.refused(operation: "HEAD \(registry)/\(repository) blob \(digest.short)", status: reply.status, detail: reply.errorDetail)
        }
    }

    /// Puts a blob into `repository`: mounted from one of `mountFrom` when the registry can, else
    /// uploaded from `file` — in one PUT when it fits a chunk, else by POST, PATCH chunks and a
    /// closing PUT. An interrupted upload resumes from the range the registry reports, or starts
    /// again when the registry has dropped the session. `progress` gets the bytes sent.
    public func pushBlob(
        _ repository: String, descriptor: Descriptor, file: BlobFile, mountFrom: [String] = [],
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws -> BlobOutcome {
        let digest = descriptor.digest
        let operation = "upload \(digest.short) to \(registry)/\(repository)"
        let scopes = [Self.scope(repository, push: true)]
        // A mount the registry declines opens an ordinary upload session (202): the last one is used.
        var pending: UploadStart? = nil
        for source in mountFrom where source != repository {
            pending = try await startUpload(repository, mount: (digest, source))
            if case .mounted = pending { return .mounted }
        }
        var failures = 0
        var session: (location: String, offset: Int64, chunk: Int64)? = nil
        while true {
            do {
                if session == nil {
                    let start: UploadStart
                    if let waiting = pending {
                        start = waiting
                    } else {
                        start = try await startUpload(repository, mount: nil)
                    }
                    pending = nil
                    guard case .session(let location, let minimumChunk) = start else { return .mounted }
                    session = (location, 0, max(options.chunkSize, minimumChunk ?? 0))
                }
                var (location, offset, chunk) = session!
                if offset == 0, file.size <= chunk {
                    try await finishUpload(location, scopes: scopes, digest: digest, region: file, operation: operation, progress: progress)
                    return .uploaded
                }
                while offset < file.size {
                    let length = min(chunk, file.size - offset)
                    let region = BlobFile(path: file.path, offset: file.offset + offset, size: length)
                    (location, offset) = try await patch(location, scopes: scopes, region: region, start: offset, operation: operation, progress: progress)
                    session = (location, offset, chunk)
                }
                try await finishUpload(location, scopes: scopes, digest: digest, region: nil, operation: operation, progress: progress)
                return .uploaded
            } catch let error as UploadInterrupted {
                failures += 1
                guard failures < options.retry.attempts else {
                    throw RegistryError.unavailable(operation: operation, attempts: failures, failure: error.failure)
                }
                try await Task.sleep(for: options.retry.delay(afterAttempt: failures))
                // Go on from the range the registry reports, or start a new session when it has
                // dropped this one (distribution cancels a session whose stored size no longer
                // matches the state in its URL, e.g. after a cut chunk it partly kept).
                if !error.restart, let current = session, let status = try await uploadStatus(current.location, scopes: scopes),
                   status.offset <= file.size {
                    session = (status.location, status.offset, current.chunk)
                } else {
                    session = nil
                }
            }
        }
    }

    /// `POST /v2/NAME/blobs/uploads/?mount=DIGEST&from=SOURCE`: whether the registry mounted
    /// the blob from `source`, another repository of it. A registry that declines opens an
    /// upload session instead, which is left to expire.
    public func mountBlob(_ repository: String, _ digest: Digest, from source: String) async throws -> Bool {
        guard source != repository else { return try await blobExists(repository, digest) }
        if case .mounted = try await startUpload(repository, mount: (digest, source)) { return true }
        return false
    }

    /// An upload request failed in a way that a new attempt may fix.
    struct UploadInterrupted: Error {
        var failure: TransportFailure
        /// The session's bytes cannot be trusted: start a new one rather than resume.
        var restart = false
    }

    enum UploadStart { case mounted, session(location: String, minimumChunk: Int64?) }

    /// `POST /v2/NAME/blobs/uploads/` (with `?mount=&from=` for a cross-repository mount).
    func startUpload(_ repository: String, mount: (Digest, String)?) async throws -> UploadStart {
        var path = "/v2/\(repository)/blobs/uploads/"
        var scopes = [Self.scope(repository, push: true)]
        if let mount {
            let (digest, from) = mount
            path += "?mount=\(digest.description.replacingOccurrences(of: ":", with: "%3A"))&from=\(from)"
            scopes.append(Self.scope(from, push: false))
        }
        let url = url(path)
        let operation = "start an upload to \(registry)/\(repository)"
        let reply = try await send(operation, scopes: scopes) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Length", value: "0")
            return request
        }
        if reply.status == 201, mount != nil { return .mounted }
        guard reply.status == 202, let location = reply.headers.first(name: "Location") else {
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
        let minimum = reply.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) }
        return .session(location: location, minimumChunk: minimum)
    }

    /// One `PATCH` of a chunk; returns the next location and offset.
    func patch(
        _ location: String, scopes: [String], region: BlobFile, start: Int64, operation: String, progress: @escaping @Sendable (Int64) -> Void
    ) async throws -> (String, Int64) {
        let url = url(location)
        let reply: Reply
        do {
            reply = try await sendOnce(operation, scopes: scopes) {
                var request = HTTPClientRequest(url: url)
                request.method = .PATCH
                request.headers.add(name: "Content-Type", value: "application/octet-stream")
                request.headers.add(name: "Content-Range", value: "\(start)-\(start + region.size - 1)")
                request.headers.add(name: "Content-Length", value: "\(region.size)")
                request.body = .stream(FileRegionBytes(file: region, progress: progress), length: .known(region.size))
                return request
            }
        }
        guard reply.status == 202, let next = reply.headers.first(name: "Location") else {
            if reply.status >= 500 || reply.status == 429 || reply.status == 416 {
                throw UploadInterrupted(failure: .status(reply.status, detail: reply.errorDetail))
            }
            if reply.status == 404 { throw UploadInterrupted(failure: .uploadInterrupted("the registry dropped the upload session (HTTP 404)")) }
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
        let end = Self.rangeEnd(reply.headers.first(name: "Range")) ?? (start + region.size - 1)
        return (next, end + 1)
    }

    /// `GET` the upload's location: how many bytes the registry holds, or nil if the session is gone.
    func uploadStatus(_ location: String, scopes: [String]) async throws -> (location: String, offset: Int64)? {
        let url = url(location)
        guard let reply = try? await sendOnce("upload status", scopes: scopes, make: { HTTPClientRequest(url: url) }), reply.status == 204 else { return nil }
        // distribution answers "0-0" for an empty upload as well as for one byte: read it as
        // empty (re-sending one byte costs nothing; skipping one would corrupt the blob).
        let end = Self.rangeEnd(reply.headers.first(name: "Range")) ?? 0
        let offset = end == 0 ? 0 : end + 1
        return (reply.headers.first(name: "Location") ?? location, offset)
    }

    /// The closing `PUT LOCATION?digest=…`, with the whole blob (`region`) or no body.
    func finishUpload(
        _ location: String, scopes: [String], digest: Digest, region: BlobFile?, operation: String, progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        let url = url(location) + (location.contains("?") ? "&" : "?") + "digest=\(digest.description.replacingOccurrences(of: ":", with: "%3A"))"
        let reply = try await sendOnce(operation, scopes: scopes) {
            var request = HTTPClientRequest(url: url)
            request.method = .PUT
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            if let region {
                request.headers.add(name: "Content-Length", value: "\(region.size)")
                request.body = .stream(FileRegionBytes(file: region, progress: progress), length: .known(region.size))
            } else {
                request.headers.add(name: "Content-Length", value: "0")
            }
            return request
        }
        switch reply.status {
        case 201, 204:
            if let answered = reply.headers.first(name: "Docker-Content-Digest"), answered != digest.description {
                throw RegistryError.digestMismatch(what: operation, expected: digest.description, actual: answered)
            }
        case 404, 416, 429, 500...599:
            throw UploadInterrupted(failure: .status(reply.status, detail: reply.errorDetail))
        case 400 where reply.errorCodes.contains("DIGEST_INVALID"):
            // The registry holds other bytes than we sent (a cut chunk it kept): start again.
            throw UploadInterrupted(failure: .uploadInterrupted("the registry's copy did not hash to \(digest.short) (\(reply.errorDetail))"), restart: true)
        default:
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
    }

    /// One attempt (auth included) of a request whose retry is the caller's business: an upload
    /// step, which must not be blindly resent. Connection errors become ``UploadInterrupted``.
    func sendOnce(_ operation: String, scopes: [String], make: @escaping @Sendable () throws -> HTTPClientRequest) async throws -> Reply {
        do {
            return try await send(operation, scopes: scopes, attempts: 1, make: make)
        } catch RegistryError.unavailable(_, _, let failure) {
            throw UploadInterrupted(failure: failure)
        }
    }

    /// `0-1234` or `bytes=0-1234` → 1234.
    static func rangeEnd(_ header: String?) -> Int64? {
        guard var value = header else { return nil }
        if value.hasPrefix("bytes=") { value.removeFirst(6) }
        guard let dash = value.firstIndex(of: "-") else { return nil }
        return Int64(value[value.index(after: dash)...])
    }

    /// `GET /v2/NAME/blobs/DIGEST` into `destination` (a temporary file committed only when the
    /// bytes hash to the digest and have the descriptor's size). Follows a redirect to storage
    /// without sending the registry's credentials there. `progress` gets the bytes received.
    public func pullBlob(
        _ repository: String, descriptor: Descriptor, to destination: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let digest = descriptor.digest
        let operation = "download \(digest.short) from \(registry)/\(repository)"
        var location = url("/v2/\(repository)/blobs/\(digest)")
        for _ in 0..<5 {
            let target = location
            let external = !target.hasPrefix(baseURL)
            let reply = try await send(operation, scopes: external ? [] : [Self.scope(repository, push: false)], authorize: !external, consume: { response in
                let writer = try AtomicFileWriter(path: destination)
                let hasher = DigestHasher(digest.algorithm)
                for try await buffer in response.body {
                    try buffer.withUnsafeReadableBytes { bytes in
                        hasher.update(bytes)
                        try writer.write(bytes)
                    }
                    progress(Int64(buffer.readableBytes))
                    guard hasher.count <= descriptor.size else {
                        throw RegistryError.digestMismatch(what: operation, expected: "\(descriptor.size) bytes", actual: "more")
                    }
                }
                let actual = hasher.finalize()
                guard hasher.count == descriptor.size else {
                    throw RegistryError.digestMismatch(what: operation, expected: "\(descriptor.size) bytes", actual: "\(hasher.count) bytes")
                }
                guard actual == digest else {
                    throw RegistryError.digestMismatch(what: operation, expected: digest.description, actual: actual.description)
                }
                try writer.commit()
            }) {
                HTTPClientRequest(url: target)
            }
            if (200..<300).contains(reply.status) { return }
            if [301, 302, 303, 307, 308].contains(reply.status), let next = reply.headers.first(name: "Location") {
                location = url(next)
                continue
            }
            if reply.status == 404 { throw RegistryError.notFound(reference: "\(registry)/\(repository)@\(digest)") }
            throw RegistryError.refused(operation: operation, status: reply.status, detail: reply.errorDetail)
        }
        throw RegistryError.protocolViolation(operation: operation, reason: "more than 5 redirects")
    }

    /// Puts a small blob held in memory (an attached document, the empty config). It is
    /// written to a temporary file first, so that it takes the one upload path there is, with
    /// its chunks, retries and resume.
    public func pushBlob(_ repository: String, descriptor: Descriptor, bytes: [UInt8]) async throws -> BlobOutcome {
        let directory = try Self.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/blob"
        try AtomicFileWriter.write(bytes, to: path)
        return try await pushBlob(repository, descriptor: descriptor, file: BlobFile(path: path, offset: 0, size: Int64(bytes.count)))
    }

    /// A small blob's bytes (an attached document), checked against the descriptor's digest and
    /// size like every pulled blob: downloaded to a temporary file, read back, removed.
    public func blob(_ repository: String, descriptor: Descriptor) async throws -> [UInt8] {
        let directory = try Self.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/blob"
        try await pullBlob(repository, descriptor: descriptor, to: path)
        return try FileReader.readAll(path: path, limit: Int(descriptor.size))
    }

    /// A new private directory under the system's temporary directory.
    static func makeTemporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imagegen-blob-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OCIError.io(path: path, reason: "cannot create a temporary directory: \(error.localizedDescription)")
        }
        return path
    }
}

/// A region of a file as a stream of 1 MiB buffers, read with `pread` as the HTTP client asks
/// for them: the request body of an upload, never held whole in memory.
struct FileRegionBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let file: BlobFile
    let progress: @Sendable (Int64) -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        let file: BlobFile
        let progress: @Sendable (Int64) -> Void
        var reader: FileReader?
        var sent: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard sent < file.size else { return nil }
            if reader == nil { reader = try FileReader(path: file.path) }
            let want = Int(Swift.min(file.size - sent, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let position = file.offset + sent
            let reader = self.reader!
            let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { pointer in
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: pointer[0..<want]), at: position)
            }
            guard got > 0 else { throw OCIError.io(path: file.path, reason: "unexpected end of file at byte \(position)") }
            sent += Int64(got)
            progress(Int64(got))
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(file: file, progress: progress) }
}
