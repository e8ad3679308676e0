import Foundation
import ImageGen
import Layers
import OCI
import Registry
import Synchronization
import TestSupport
import Testing

/// Pushes through a fault-injecting proxy: dropped connections, 500/503, uploads cut halfway.
@Suite("push through faults", .timeLimit(.minutes(6)))
struct FaultTests {
    /// A rule that fails the first `times` requests matching `matches`, then passes.
    static func failing(_ fault: FaultProxy.Fault, times: Int, _ matches: @escaping @Sendable (FaultProxy.Request) -> Bool)
        -> @Sendable (FaultProxy.Request) -> FaultProxy.Fault?
    {
        let left = Mutex(times)
        return { request in
            guard matches(request) else { return nil }
            return left.withLock { n in
                guard n > 0 else { return nil }
                n -= 1
                return fault
            }
        }
    }

    static func proxy(_ registry: RegistryServer, _ rules: [@Sendable (FaultProxy.Request) -> FaultProxy.Fault?]) throws -> FaultProxy {
        try FaultProxy(upstreamPort: registry.port) { request in
            for rule in rules { if let fault = rule(request) { return fault } }
            return .pass
        }
    }

    @Test("dropped connections, 500 and 503 answers and a chunk cut halfway: the push finishes with the same digest")
    func recovers() async throws {
        let scratch = try ScratchDirectory("imagegen-faults")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)
        let proxy = try Self.proxy(registry, [
            Self.failing(.drop, times: 2) { $0.method == "HEAD" && $0.path.contains("/blobs/") },
            Self.failing(.status(503), times: 2) { $0.method == "POST" },
            Self.failing(.cut(0.5), times: 2) { $0.method == "PATCH" && $0.number > 6 },
            Self.failing(.status(500), times: 1) { $0.method == "PATCH" },
            Self.failing(.drop, times: 1) { $0.method == "PUT" && $0.path.contains("/blobs/") },
            Self.failing(.status(500), times: 2) { $0.method == "PUT" && $0.path.contains("/manifests/") },
        ])
        let report = try await push(scratch("image"), to: "\(proxy.address)/faulty/app", options: testClientOptions(chunkSize: 64 << 10, attempts: 6))
        #expect(report.references == ["\(proxy.address)/faulty/app@\(image.manifest.digest)"])
        let log = proxy.log
        // After the injected 500 the upload went on in the same session, from the registry's Range.
        func session(_ line: String) -> Substring? {
            guard let start = line.range(of: "/uploads/"), let end = line[start.upperBound...].firstIndex(of: "?") else { return nil }
            return line[start.upperBound..<end]
        }
        let resumed = log.indices.contains { i in
            guard log[i].hasPrefix("GET "), let id = session(log[i]) else { return false }
            return log[(i + 1)...].contains { $0.hasPrefix("PUT ") && session($0) == id && $0.hasSuffix("-> pass") }
        }
        #expect(resumed, "\(log)")
        #expect(log.contains { $0.contains("PATCH") && $0.contains("cut") }, "\(log)")
        #expect(log.contains { $0.contains("POST") && $0.contains("status(503)") })
        #expect(log.contains { $0.contains("/manifests/") && $0.contains("status(500)") })
        // Straight to the registry, past the proxy: skopeo sees the image whole.
        for tag in ["v1", "1.0.0"] {
            #expect(try skopeoDigest("\(registry.address)/faulty/app:\(tag)") == image.manifest.digest.description)
        }
        let copied = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(registry.address)/faulty/app:v1", "oci:\(scratch("copied")):v1"])
        #expect(copied.status == 0, "\(copied.stderr)")
    }

    @Test("a registry that keeps failing: a clear error after the retries, and no manifest whose blobs are missing", arguments: [
        ("PATCH", FaultProxy.Fault.cut(0.5)),
        ("PUT-blob", FaultProxy.Fault.status(503)),
        ("PUT-manifest", FaultProxy.Fault.drop),
    ])
    func givesUp(target: String, fault: FaultProxy.Fault) async throws {
        let scratch = try ScratchDirectory("imagegen-faults")
        let registry = try RegistryServer(directory: scratch("registry"))
        _ = try packTestImage(in: scratch)
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            let hit = switch target {
            case "PATCH": request.method == "PATCH"
            case "PUT-blob": request.method == "PUT" && request.path.contains("/blobs/")
            default: request.method == "PUT" && request.path.contains("/manifests/")
            }
            return hit ? fault : .pass
        }
        let error = await #expect(throws: RegistryError.self) {
            try await push(scratch("image"), to: "\(proxy.address)/broken/app", options: testClientOptions(chunkSize: 64 << 10, attempts: 3))
        }
        let text = try #require(error).description
        #expect(text.contains("failed after 3 attempts"), "\(text)")
        #expect(!text.contains("\n"))
        #expect(try await remoteDigest("\(registry.address)/broken/app:v1") == nil)
        let listed = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.address)/broken/app:v1"])
        #expect(listed.status != 0)
    }

    @Test("OCI-Chunk-Min-Length raises the chunk size")
    func chunkMinimum() async throws {
        let scratch = try ScratchDirectory("imagegen-faults")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            request.method == "POST" ? .header("OCI-Chunk-Min-Length", "131072") : .pass
        }
        _ = try await push(scratch("image"), to: "\(proxy.address)/chunks/app", options: testClientOptions(chunkSize: 16 << 10))
        let big = try #require(image.layers.map(\.descriptor.size).max())
        let patches = proxy.log.filter { $0.hasPrefix("PATCH") }.count
        #expect(patches == Int((big + 131_071) / 131_072), "\(proxy.log)")
    }
}
