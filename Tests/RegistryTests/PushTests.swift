import Foundation
import ImageGen
import Layers
import OCI
import Registry
import TestSupport
import Testing

/// Push and pull against a real registry (Debian's docker-registry) on 127.0.0.1.
@Suite("push and pull against docker-registry", .timeLimit(.minutes(6)))
struct PushTests {
    @Test("push: skopeo sees the same digest and copies it back; a second push sends no blob; pull verifies and matches")
    func pushInspectCopyPull() async throws {
        let scratch = try ScratchDirectory("imagegen-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)

        let first = try await push(scratch("image"), to: "\(registry.address)/team/app")
        #expect(first.uploaded == 3)
        #expect(first.existing == 0)
        #expect(first.bytesUploaded == image.layers.reduce(image.config.size) { $0 + $1.descriptor.size })
        #expect(first.tags.map(\.tag).sorted() == ["1.0.0", "v1"])
        #expect(first.tags.allSatisfy { $0.action == .created && $0.digest == image.manifest.digest })
        #expect(first.references == ["\(registry.address)/team/app@\(image.manifest.digest)"])

        for tag in ["v1", "1.0.0"] {
            #expect(try skopeoDigest("\(registry.address)/team/app:\(tag)") == image.manifest.digest.description)
        }
        let copied = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(registry.address)/team/app:v1", "oci:\(scratch("copied")):v1"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let copiedIndex = try LayoutDirectory(path: scratch("copied")).index()
        #expect(copiedIndex.manifests.map(\.digest) == [image.manifest.digest])

        // The same image again, from the archive this time: nothing to send.
        let second = try await push(scratch("image.tar"), to: "\(registry.address)/team/app")
        #expect(second.uploaded == 0)
        #expect(second.bytesUploaded == 0)
        #expect(second.existing == 3)
        #expect(second.tags.allSatisfy { $0.action == .unchanged })

        let reference = try ImageReference(parsing: "\(registry.address)/team/app:v1")
        let pulled = try await RegistryClient.withClient(registry: registry.address, options: testClientOptions()) { client in
            try await ImagePuller(client: client).pull(reference, into: scratch("pulled"))
        }
        #expect(pulled.digest == image.manifest.digest)
        #expect(pulled.blobs == 3)
        let report = ImageVerifier().verify(path: scratch("pulled"))
        #expect(report.ok, "\(report.problems)")
        #expect(try LayoutDirectory(path: scratch("pulled")).index().manifests.first?.annotations?[AnnotationKey.refName] == "v1")
    }

    @Test("a tag that points elsewhere is refused before any blob is sent; --force moves it and says from what to what")
    func immutableTags() async throws {
        let scratch = try ScratchDirectory("imagegen-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        let a = try packTestImage(in: scratch, name: "a", tags: ["v1"], seed: 1)
        let b = try packTestImage(in: scratch, name: "b", tags: ["v1"], seed: 2)
        #expect(a.manifest.digest != b.manifest.digest)
        _ = try await push(scratch("a"), to: "\(registry.address)/app")

        let error = await #expect(throws: RegistryError.self) {
            try await push(scratch("b"), to: "\(registry.address)/app")
        }
        let text = try #require(error).description
        #expect(text.contains("\(registry.address)/app:v1 points to \(a.manifest.digest)"), "\(text)")
        #expect(text.contains("move it to \(b.manifest.digest)"), "\(text)")
        #expect(text.contains("--force"))
        // Nothing of b was sent.
        let layer = b.layers.last!.descriptor.digest
        let present = try await RegistryClient.withClient(registry: registry.address, options: testClientOptions()) { try await $0.blobExists("app", layer) }
        #expect(!present)
        #expect(try await remoteDigest("\(registry.address)/app:v1") == a.manifest.digest)

        let forced = try await push(scratch("b"), to: "\(registry.address)/app", force: true)
        #expect(forced.tags == [.init(tag: "v1", action: .moved, previous: a.manifest.digest, digest: b.manifest.digest)])
        // A closed set in the library, its plain name in the JSON report.
        #expect(String(decoding: try CanonicalJSON.encode(forced.tags), as: UTF8.self).contains(#""action":"moved""#))
        #expect(try await remoteDigest("\(registry.address)/app:v1") == b.manifest.digest)

        // Tagging a digest already in the repository obeys the same rule.
        let tagged = await #expect(throws: RegistryError.self) {
            try await RegistryClient.withClient(registry: registry.address, options: testClientOptions()) { client in
                try await ImageTagger(client: client).tag(try ImageReference(parsing: "\(registry.address)/app@\(a.manifest.digest)"), tags: ["v1"])
            }
        }
        #expect(tagged?.description.contains("points to \(b.manifest.digest)") == true)

        // By digest only: no tag moves, the manifest is there by digest.
        let byDigest = try await push(scratch("a"), to: "\(registry.address)/app", digestOnly: true)
        #expect(byDigest.tags.isEmpty)
        #expect(byDigest.references == ["\(registry.address)/app@\(a.manifest.digest)"])
        #expect(try await remoteDigest("\(registry.address)/app:v1") == b.manifest.digest)
    }

    @Test("blobs another repository holds are mounted, not uploaded")
    func crossRepositoryMount() async throws {
        let scratch = try ScratchDirectory("imagegen-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        _ = try packTestImage(in: scratch)
        _ = try await push(scratch("image"), to: "\(registry.address)/first")
        let second = try await push(scratch("image"), to: "\(registry.address)/second", mountFrom: ["first"])
        #expect(second.mounted == 3)
        #expect(second.uploaded == 0)
        #expect(try skopeoDigest("\(registry.address)/second:v1") == (try skopeoDigest("\(registry.address)/first:v1")))
    }

    @Test("imagegen push and pull on the command line: NAME under --out, --digest-only on stdout, pull then verify")
    func commandLine() async throws {
        let scratch = try ScratchDirectory("imagegen-push")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)
        let pushed = try run(imagegenBinary, ["push", "image", "--out", scratch.path, "--to", "\(registry.address)/cli/app", "--insecure", "--digest-only"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stdout == "\(registry.address)/cli/app@\(image.manifest.digest)\n")
        #expect(pushed.stderr.contains("3 blobs uploaded"), "\(pushed.stderr)")

        let tagged = try run(imagegenBinary, ["push", scratch("image.tar"), "--to", "\(registry.address)/cli/app:stable", "--insecure"])
        #expect(tagged.status == 0, "\(tagged.stderr)")
        #expect(tagged.stderr.contains("0 blobs uploaded"), "\(tagged.stderr)")
        #expect(tagged.stderr.contains("tag stable: \(image.manifest.digest)"), "\(tagged.stderr)")

        let pulled = try run(imagegenBinary, ["pull", "\(registry.address)/cli/app:stable", "--out", scratch("pulled"), "--insecure"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stderr.contains("every digest verified"), "\(pulled.stderr)")
        let verified = try run(imagegenBinary, ["verify", scratch("pulled")])
        #expect(verified.status == 0, "\(verified.stderr)")

        let missing = try run(imagegenBinary, ["pull", "\(registry.address)/cli/app:nope", "--out", scratch("none"), "--insecure"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cli/app:nope: not found"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("none")))

        // Tag what was pushed by digest; a tag that points elsewhere is refused.
        let retag = try run(imagegenBinary, ["tag", "\(registry.address)/cli/app@\(image.manifest.digest)", "v9", "stable", "--insecure"])
        #expect(retag.status == 0, "\(retag.stderr)")
        #expect(retag.stderr.contains("tag v9: \(image.manifest.digest)"), "\(retag.stderr)")
        #expect(retag.stderr.contains("tag stable: already \(image.manifest.digest)"), "\(retag.stderr)")
        #expect(try skopeoDigest("\(registry.address)/cli/app:v9") == image.manifest.digest.description)

        let bad = try run(imagegenBinary, ["push", "image", "--out", scratch.path, "--to", "\(registry.address)/Bad/Name", "--insecure"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("repository component 'Bad'"), "\(bad.stderr)")
    }
}
