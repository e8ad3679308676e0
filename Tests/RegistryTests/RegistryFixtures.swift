import Foundation
import ImageGen
import Layers
import OCI
import Registry
import TestSupport

/// A small image packed by imagegen: the fixture tree and an app layer holding `payload`
/// pseudo-random (incompressible) bytes, so its layer spans several upload chunks.
func packTestImage(in scratch: ScratchDirectory, name: String = "image", tags: [String] = ["v1", "1.0.0"], seed: UInt64 = 1, payload: Int = 300_000) throws -> ImagePacker.Result {
    if !FileManager.default.fileExists(atPath: scratch("tree")) { try makeFixtureTree(at: scratch("tree")) }
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var bytes = [UInt8](repeating: 0, count: payload)
    for i in 0..<payload {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state)
    }
    try writeFile(scratch("app-\(name)/workspace/data.bin"), bytes)
    var options = ImagePacker.Options(inputs: [scratch("tree"), scratch("app-\(name)")], output: scratch(name))
    options.format = .both
    options.tags = tags
    options.repository = "imagegen-test"
    options.buildTime = BuildTime(seconds: 1_700_000_000)
    options.config.env = ["PATH=/usr/bin:/bin"]
    return try ImagePacker(options: options).run()
}

/// Client options for a plain-HTTP test registry, with quick retries.
func testClientOptions(credential: Credential? = nil, chunkSize: Int64 = 64 << 10, attempts: Int = 5) -> RegistryClient.Options {
    var options = RegistryClient.Options()
    options.insecure = true
    options.credential = credential
    options.chunkSize = chunkSize
    options.retry = RetryPolicy(attempts: attempts, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100))
    return options
}

/// Pushes `image` (a layout or archive path) to `reference` with the library.
func push(
    _ image: String, to reference: String, options: RegistryClient.Options = testClientOptions(),
    force: Bool = false, digestOnly: Bool = false, mountFrom: [String] = []
) async throws -> ImagePusher.Report {
    let destination = try ImageReference(parsing: reference)
    var pushOptions = ImagePusher.Options(destination: destination)
    pushOptions.force = force
    pushOptions.digestOnly = digestOnly
    pushOptions.mountFrom = mountFrom
    let source = try openImage(image)
    return try await RegistryClient.withClient(registry: destination.registry, options: options) { client in
        try await ImagePusher(client: client, options: pushOptions).push(source)
    }
}

/// What a tag points to in the registry (nil when absent).
func remoteDigest(_ reference: String, options: RegistryClient.Options = testClientOptions()) async throws -> Digest? {
    let parsed = try ImageReference(parsing: reference)
    return try await RegistryClient.withClient(registry: parsed.registry, options: options) { client in
        try await client.manifestDigest(parsed.repository, reference: parsed.reference!)
    }
}

