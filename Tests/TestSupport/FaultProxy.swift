import Foundation
import Glibc
import Synchronization

/// An HTTP/1.1 proxy on 127.0.0.1 in front of a local server that injects faults, request by
/// request: drop the connection, answer with a status (500, 503, …), forward only part of the
/// request body and then cut both connections, add a response header, or answer in its place
/// (a rule sees a JSON body, so it can play a registry feature). One request per
/// connection (`Connection: close` both ways), so each request meets the rule on its own.
/// Threads and blocking sockets: it serves a test's few dozen requests, then stops.
public final class FaultProxy: Sendable {
    /// What to do with a request.
    public enum Fault: Sendable, Equatable {
        /// Forward it.
        case pass
        /// Close the connection without an answer.
        case drop
        /// Answer with this status (the request is not forwarded).
        case status(Int)
        /// Forward the head and this fraction of the body, then close both connections.
        case cut(Double)
        /// Forward it and add a header to the answer.
        case header(String, String)
        /// Answer it here (not forwarded): a status, headers and a body.
        case respond(Int, [String: String], String)
    }

    /// A request as the rule sees it.
    public struct Request: Sendable {
        /// `GET`, `PATCH`, …
        public var method: String
        /// The path and query.
        public var path: String
        /// The request's number, from 1.
        public var number: Int
        /// Its `Content-Length` (0 when absent).
        public var contentLength: Int
        /// Its headers, names lowercased.
        public var headers: [String: String]
        /// Its body when that is JSON (a `Content-Type` ending in `json`, a manifest) of at
        /// most 4 MiB, read before the rule runs; empty otherwise (blob uploads stream past).
        public var body: [UInt8]
    }

    /// `127.0.0.1:PORT`.
    public let address: String
    private let listener: Int32
    private let upstream: Int
    private let rule: @Sendable (Request) -> Fault
    private let state = Mutex<(count: Int, log: [String], stopped: Bool)>((0, [], false))

    /// A proxy to `127.0.0.1:upstreamPort`; `rule` decides each request's fate.
    public init(upstreamPort: Int, rule: @escaping @Sendable (Request) -> Fault) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RegistryServerError(message: "socket failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw RegistryServerError(message: "bind/listen failed")
        }
        listener = fd
        upstream = upstreamPort
        self.rule = rule
        self.address = "127.0.0.1:\(try boundPort(fd))"
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// `METHOD PATH -> FAULT`, one line per request, in arrival order.
    public var log: [String] { state.withLock { $0.log } }

    /// Stops accepting connections.
    public func stop() {
        let first = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return !s.stopped
        }
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let thread = Thread { [self] in
                handle(client)
                close(client)
            }
            thread.start()
        }
    }

    private func handle(_ client: Int32) {
        var buffer = [UInt8]()
        guard let headEnd = readHead(client, into: &buffer) else { return }
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let contentLength = headers["content-length"].flatMap { Int($0) } ?? 0
        let bodyStart = headEnd + 4
        if headers["content-type"]?.hasSuffix("json") == true, contentLength <= 4 << 20 {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while buffer.count - bodyStart < contentLength {
                let n = recv(client, &chunk, chunk.count, 0)
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
        }
        let number = state.withLock { s -> Int in
            s.count += 1
            return s.count
        }
        let request = Request(
            method: String(requestLine[0]), path: String(requestLine[1]), number: number, contentLength: contentLength, headers: headers,
            body: headers["content-type"]?.hasSuffix("json") == true ? Array(buffer[bodyStart...].prefix(contentLength)) : [])
        let fault = rule(request)
        state.withLock { $0.log.append("\(request.method) \(request.path) -> \(fault)") }
        var body = Array(buffer[bodyStart...])

        switch fault {
        case .drop:
            return
        case .status(let code):
            drain(client, have: body.count, total: contentLength)
            sendAll(client, Array("HTTP/1.1 \(code) Injected\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        case .respond(let code, let extra, let text):
            drain(client, have: body.count, total: contentLength)
            let fields = extra.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined()
            let bytes = Array(text.utf8)
            sendAll(client, Array("HTTP/1.1 \(code) Answered\r\n\(fields)Content-Length: \(bytes.count)\r\nConnection: close\r\n\r\n".utf8) + bytes)
            return
        case .pass, .cut, .header:
            break
        }
        let server = connectLoopback(port: upstream)
        guard server >= 0 else { return }
        defer { close(server) }
        let kept = lines.filter { !$0.lowercased().hasPrefix("connection:") && !$0.isEmpty }
        let newHead = ([requestLine.joined(separator: " ")] + kept + ["Connection: close", "", ""]).joined(separator: "\r\n")
        guard sendAll(server, Array(newHead.utf8)) else { return }
        var limit = contentLength
        if case .cut(let fraction) = fault { limit = Int(Double(contentLength) * fraction) }
        var forwarded = 0
        if !body.isEmpty {
            let part = Array(body.prefix(limit))
            guard sendAll(server, part) else { return }
            forwarded = part.count
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while forwarded < limit {
            let n = recv(client, &chunk, min(chunk.count, limit - forwarded), 0)
            if n <= 0 { return }
            guard sendAll(server, Array(chunk[0..<n])) else { return }
            forwarded += n
        }
        if case .cut = fault {
            // Both sides see the connection end halfway through the body.
            shutdown(server, Int32(SHUT_RDWR))
            shutdown(client, Int32(SHUT_RDWR))
            return
        }
        // The answer: rewrite its head (Connection: close, an injected header), then copy the rest.
        body = []
        guard let answerEnd = readHead(server, into: &body) else { return }
        var answerLines = String(decoding: body[..<answerEnd], as: UTF8.self).components(separatedBy: "\r\n")
            .filter { !$0.lowercased().hasPrefix("connection:") }
        if case .header(let name, let value) = fault { answerLines.append("\(name): \(value)") }
        answerLines += ["Connection: close", "", ""]
        guard sendAll(client, Array(answerLines.joined(separator: "\r\n").utf8)), sendAll(client, Array(body[(answerEnd + 4)...])) else { return }
        while true {
            let n = recv(server, &chunk, chunk.count, 0)
            if n <= 0 { break }
            guard sendAll(client, Array(chunk[0..<n])) else { return }
        }
    }

    /// Reads until `\r\n\r\n`; returns its offset, or nil at EOF first.
    private func readHead(_ fd: Int32, into buffer: inout [UInt8]) -> Int? {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            if let end = findHeadEnd(buffer) { return end }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    private func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func drain(_ fd: Int32, have: Int, total: Int) {
        var left = total - have
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while left > 0 {
            let n = recv(fd, &chunk, min(chunk.count, left), 0)
            if n <= 0 { return }
            left -= n
        }
    }

    @discardableResult
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }
}
