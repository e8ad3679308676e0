import Foundation
import ImageGen
import OCI
import Registry
import Synchronization
import TestSupport
import Testing

/// Swift Testing has an `Attachment` of its own (test output); here it is always the document.
typealias Attachment = Registry.Attachment

/// Documents attached to a pushed image as OCI 1.1 referrers, against a real registry: Debian's
/// docker-registry (distribution 2.8), which has no referrers API, so the referrers tag schema
/// is used; and the same registry behind a test double that plays the referrers API.
@Suite("referrers against docker-registry", .timeLimit(.minutes(6)))
struct ReferrersTests {
    /// An SPDX-like SBOM.
    static let sbom = Attachment(
        artifactType: .spdxJSON,
        bytes: Array(#"{"SPDXID":"SPDXRef-DOCUMENT","name":"imagegen-test","spdxVersion":"SPDX-2.3"}"#.utf8),
        annotations: [AnnotationKey.title: "sbom.spdx.json", AnnotationKey.created: "2023-11-14T22:13:20Z"])
    /// An in-toto statement like SLSA provenance.
    static let provenance = Attachment(
        artifactType: .inTotoJSON,
        bytes: Array(#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1"}"#.utf8),
        annotations: [AnnotationKey.title: "provenance.intoto.json"])

    /// Runs `body` with a client of `address`.
    static func withClient<T: Sendable>(_ address: String, _ body: (RegistryClient) async throws -> T) async throws -> T {
        try await RegistryClient.withClient(registry: address, options: testClientOptions(), body)
    }

    /// Attaches `attachments` to `subject` in `repository` of the registry at `address`.
    static func attach(_ attachments: [Attachment], to subject: Descriptor, at address: String, _ repository: String) async throws -> ReferrerPusher.Report {
        try await withClient(address) { client in
            try await ReferrerPusher(client: client, repository: repository).attach(attachments, to: subject)
        }
    }

    /// The index under the referrers tag of `subject`, as skopeo reads it.
    /// A registry on 127.0.0.1 with one test image pushed to `repository` (tags v1, 1.0.0).
    static func pushedImage(_ repository: String) async throws -> (ScratchDirectory, RegistryServer, ImagePacker.Result) {
        let scratch = try ScratchDirectory("imagegen-referrers")
        let registry = try RegistryServer(directory: scratch("registry"))
        let image = try packTestImage(in: scratch)
        _ = try await push(scratch("image"), to: "\(registry.address)/\(repository)")
        return (scratch, registry, image)
    }

    /// A registry on 127.0.0.1 with two different test images, `a` and `b`, pushed to `app`.
    static func pushedPair() async throws -> (ScratchDirectory, RegistryServer, ImagePacker.Result, ImagePacker.Result) {
        let scratch = try ScratchDirectory("imagegen-referrers")
        let registry = try RegistryServer(directory: scratch("registry"))
        let a = try packTestImage(in: scratch, name: "a", tags: ["a"], seed: 1)
        let b = try packTestImage(in: scratch, name: "b", tags: ["b"], seed: 2)
        _ = try await push(scratch("a"), to: "\(registry.address)/app")
        _ = try await push(scratch("b"), to: "\(registry.address)/app")
        return (scratch, registry, a, b)
    }

    static func skopeoReferrersIndex(_ address: String, _ repository: String, of subject: Digest) throws -> Index {
        let result = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(address)/\(repository):sha256-\(subject.encoded)"])
        guard result.status == 0 else { throw RegistryServerError(message: "skopeo inspect --raw: \(result.stderr)") }
        return try JSONDecoder().decode(Index.self, from: Data(result.stdout.utf8))
    }

    @Test("tag schema: both documents are listed under sha256-HEX (skopeo), read back byte for byte; attaching again sends nothing")
    func tagSchema() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("team/app")
        defer { withExtendedLifetime(scratch) {} }  // the registry stores into it
        let subject = image.manifest

        let first = try await Self.attach([Self.sbom, Self.provenance], to: subject, at: registry.address, "team/app")
        #expect(first.manifests.map(\.artifactType) == [.spdxJSON, .inTotoJSON])
        #expect(first.uploaded == 3)  // two documents and the empty config
        #expect(first.existing == 0)
        #expect(first.bytesUploaded == Int64(Self.sbom.bytes.count + Self.provenance.bytes.count + 2))
        #expect(first.tagSchema)
        #expect(first.indexUpdated)

        // An independent reader: skopeo sees an image index listing both, with their types.
        let index = try Self.skopeoReferrersIndex(registry.address, "team/app", of: subject.digest)
        #expect(index.mediaType == .imageIndex)
        #expect(Set(index.manifests) == Set(first.manifests))
        #expect(Set(index.manifests.compactMap(\.artifactType)) == [.spdxJSON, .inTotoJSON])
        #expect(index.manifests.first { $0.artifactType == .spdxJSON }?.annotations?[AnnotationKey.title] == "sbom.spdx.json")
        // …and the artifact manifest as the spec shapes it.
        let raw = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.address)/team/app@\(first.manifests[0].digest)"])
        #expect(raw.status == 0, "\(raw.stderr)")
        let artifact = try JSONDecoder().decode(Manifest.self, from: Data(raw.stdout.utf8))
        #expect(artifact.artifactType == .spdxJSON)
        #expect(artifact.subject == Descriptor(mediaType: .imageManifest, digest: subject.digest, size: subject.size))
        #expect(artifact.config.mediaType == .empty)
        #expect(artifact.config.digest.description == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        #expect(artifact.config.size == 2)
        #expect(artifact.config.data == Data("{}".utf8))
        #expect(raw.stdout.contains(#""data":"e30=""#))
        #expect(artifact.layers.map(\.mediaType) == [.spdxJSON])
        #expect(artifact.layers.first?.annotations == [AnnotationKey.title: "sbom.spdx.json"])
        #expect(artifact.annotations?[AnnotationKey.created] == "2023-11-14T22:13:20Z")

        // Our reader lists both (sorted by type) and gives the documents back unchanged.
        let (listed, documents) = try await Self.withClient(registry.address) { client in
            let reader = ReferrerReader(client: client)
            let listed = try await reader.referrers("team/app", of: subject.digest)
            var documents: [[UInt8]] = []
            for descriptor in listed {
                let document = try await reader.document("team/app", descriptor, of: subject.digest)
                #expect(document.manifest.subject?.digest == subject.digest)
                documents.append(document.bytes)
            }
            return (listed, documents)
        }
        #expect(listed.map(\.artifactType) == [.spdxJSON, .inTotoJSON])
        #expect(documents == [Self.sbom.bytes, Self.provenance.bytes])

        // The same documents again: no blob sent, the index left as it is.
        let tagged = try #require(try await remoteDigest("\(registry.address)/team/app:sha256-\(subject.digest.encoded)"))
        let second = try await Self.attach([Self.provenance, Self.sbom], to: subject, at: registry.address, "team/app")
        #expect(second.uploaded == 0)
        #expect(second.bytesUploaded == 0)
        #expect(second.existing == 3)
        #expect(second.tagSchema)
        #expect(!second.indexUpdated)
        #expect(Set(second.manifests) == Set(first.manifests))
        #expect(try await remoteDigest("\(registry.address)/team/app:sha256-\(subject.digest.encoded)") == tagged)
        // The image's own tags are untouched.
        #expect(try await remoteDigest("\(registry.address)/team/app:v1") == subject.digest)
    }

    @Test("filters: by artifact type; a referrer of another image is not listed; a later attachment is added to the index")
    func filters() async throws {
        let (scratch, registry, a, b) = try await Self.pushedPair()
        defer { withExtendedLifetime(scratch) {} }  // the registry stores into it
        let onA = try await Self.attach([Self.sbom, Self.provenance], to: a.manifest, at: registry.address, "app")
        let cyclone = Attachment(artifactType: .cycloneDXJSON, bytes: Array(#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#.utf8))
        let onB = try await Self.attach([cyclone, Self.sbom], to: b.manifest, at: registry.address, "app")
        // The same SBOM on b is another manifest (another subject), but the same blob.
        #expect(onB.uploaded == 1)
        #expect(onB.existing == 2)
        #expect(Set(onA.manifests.map(\.digest)).isDisjoint(with: onB.manifests.map(\.digest)))

        try await Self.withClient(registry.address) { client in
            let reader = ReferrerReader(client: client)
            let ofA = try await reader.referrers("app", of: a.manifest.digest)
            #expect(ofA.map(\.digest) == onA.manifests.map(\.digest))
            let ofB = try await reader.referrers("app", of: b.manifest.digest)
            #expect(Set(ofB.map(\.digest)) == Set(onB.manifests.map(\.digest)))
            #expect(ofB.map(\.artifactType) == [.spdxJSON, .cycloneDXJSON])
            let provenance = try await reader.referrers("app", of: a.manifest.digest, artifactType: .inTotoJSON)
            #expect(provenance.map(\.digest) == [onA.manifests[1].digest])
            #expect(try await reader.referrers("app", of: a.manifest.digest, artifactType: .cycloneDXJSON).isEmpty)
            // Nothing attached: no tag, no referrers.
            #expect(try await reader.referrers("app", of: a.config.digest).isEmpty)
        }

        // One more document for a: added after the two it has, which stay as they were.
        let later = try await Self.attach([cyclone], to: a.manifest, at: registry.address, "app")
        #expect(later.indexUpdated)
        let index = try Self.skopeoReferrersIndex(registry.address, "app", of: a.manifest.digest)
        #expect(index.manifests == onA.manifests + later.manifests)
    }

    @Test("pull with referrers: the documents are in the layout's index.json untagged; verify passes; the tag still names the image")
    func pullWithReferrers() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("team/app")
        let attached = try await Self.attach([Self.sbom, Self.provenance], to: image.manifest, at: registry.address, "team/app")

        let reference = try ImageReference(parsing: "\(registry.address)/team/app:v1")
        let report = try await Self.withClient(registry.address) { client in
            try await ImagePuller(client: client, withReferrers: true).pull(reference, into: scratch("pulled"))
        }
        #expect(report.digest == image.manifest.digest)
        #expect(report.referrers == 2)
        #expect(report.manifests == 3)
        #expect(report.blobs == 3 + 2)  // the image's config and layers, the two documents; `{}` is inline
        let layout = LayoutDirectory(path: scratch("pulled"))
        let entries = try layout.index().manifests
        #expect(entries.map(\.digest) == [image.manifest.digest] + [attached.manifests[0].digest, attached.manifests[1].digest])
        #expect(entries[0].annotations?[AnnotationKey.refName] == "v1")
        #expect(entries.dropFirst().allSatisfy { $0.annotations?[AnnotationKey.refName] == nil && $0.artifactType != nil })
        #expect(try layout.blob(attached.manifests[0].digest).count == Int(attached.manifests[0].size))
        #expect(try layout.blob(Digest.of(Self.sbom.bytes)) == Self.sbom.bytes)
        let verified = ImageVerifier().verify(path: scratch("pulled"))
        #expect(verified.ok, "\(verified.problems)")
        #expect(verified.manifests == 1)
        // skopeo resolves the tag in the layout to the image.
        let inspected = try run("skopeo", ["inspect", "oci:\(scratch("pulled")):v1"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(inspected.stdout.contains(image.manifest.digest.description), "\(inspected.stdout)")

        // The command line: --with-referrers says how many; verify passes; without it, none.
        let pulled = try run(imagegenBinary, ["pull", "\(registry.address)/team/app:v1", "--out", scratch("cli"), "--insecure", "--with-referrers"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stderr.contains("2 referrers, every digest verified"), "\(pulled.stderr)")
        let verify = try run(imagegenBinary, ["verify", scratch("cli")])
        #expect(verify.status == 0, "\(verify.stderr)")
        // verify still reads the documents' bytes: a changed SBOM is a problem.
        let sbomPath = LayoutDirectory(path: scratch("cli")).blobPath(Digest.of(Self.sbom.bytes))
        var changed = Self.sbom.bytes
        changed[0] = UInt8(ascii: "[")
        try writeFile(sbomPath, changed)
        let damaged = ImageVerifier().verify(path: scratch("cli"))
        #expect(damaged.problems.map(\.description) == [
            "document 1 (\(Digest.of(Self.sbom.bytes))): digest mismatch: expected \(Digest.of(Self.sbom.bytes)), got \(Digest.of(changed))"
        ])
        let plain = try run(imagegenBinary, ["pull", "\(registry.address)/team/app:v1", "--out", scratch("plain"), "--insecure"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try LayoutDirectory(path: scratch("plain")).index().manifests.map(\.digest) == [image.manifest.digest])
    }

    /// A test double of the referrers API in front of the registry: a manifest `PUT` whose body
    /// has a subject is recorded and answered with `OCI-Subject`; `GET /v2/…/referrers/DIGEST`
    /// is answered with an index of what was recorded for it (ignoring `artifactType`, as a
    /// registry may).
    static func referrersAPIDouble(upstream registry: RegistryServer) throws -> FaultProxy {
        let recorded = Mutex<[Digest: [Descriptor]]>([:])
        return try FaultProxy(upstreamPort: registry.port) { request in
            if request.method == "PUT", request.path.contains("/manifests/"),
               let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(request.body)), let subject = manifest.subject {
                let descriptor = Descriptor(
                    mediaType: manifest.mediaType ?? .imageManifest, digest: Digest.of(request.body), size: Int64(request.body.count),
                    annotations: manifest.annotations, artifactType: manifest.artifactType ?? manifest.config.mediaType)
                recorded.withLock { if !($0[subject.digest, default: []].contains(descriptor)) { $0[subject.digest, default: []].append(descriptor) } }
                return .header("OCI-Subject", subject.digest.description)
            }
            if request.method == "GET", let range = request.path.range(of: "/referrers/") {
                let digest = String(request.path[range.upperBound...].prefix { $0 != "?" })
                let listed = (try? Digest(parsing: digest)).map { d in recorded.withLock { $0[d] ?? [] } } ?? []
                let body = (try? CanonicalJSON.encode(Index(manifests: listed))) ?? []
                return .respond(200, ["Content-Type": MediaType.imageIndex.rawValue], String(decoding: body, as: UTF8.self))
            }
            return .pass
        }
    }

    @Test("referrers API: OCI-Subject on the PUT means no referrers tag is written; the reader lists from the API and filters itself")
    func referrersAPI() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("team/app")
        defer { withExtendedLifetime(scratch) {} }  // the registry stores into it
        let proxy = try Self.referrersAPIDouble(upstream: registry)

        let report = try await Self.attach([Self.sbom, Self.provenance], to: image.manifest, at: proxy.address, "team/app")
        #expect(!report.tagSchema)
        #expect(!report.indexUpdated)
        #expect(report.uploaded == 3)
        #expect(!proxy.log.contains { $0.contains("/manifests/sha256-") }, "\(proxy.log)")
        // Past the proxy, in the registry itself: no referrers tag.
        #expect(try await remoteDigest("\(registry.address)/team/app:sha256-\(image.manifest.digest.encoded)") == nil)
        let tags = try run("skopeo", ["list-tags", "--tls-verify=false", "docker://\(registry.address)/team/app"])
        #expect(tags.status == 0, "\(tags.stderr)")
        #expect(!tags.stdout.contains("sha256-"), "\(tags.stdout)")

        try await Self.withClient(proxy.address) { client in
            let reader = ReferrerReader(client: client)
            let listed = try await reader.referrers("team/app", of: image.manifest.digest)
            #expect(Set(listed) == Set(report.manifests))
            let filtered = try await reader.referrers("team/app", of: image.manifest.digest, artifactType: .spdxJSON)
            #expect(filtered.map(\.digest) == [report.manifests[0].digest])
            let document = try await reader.document("team/app", filtered[0], of: image.manifest.digest)
            #expect(document.bytes == Self.sbom.bytes)
        }
        #expect(proxy.log.contains { $0.hasPrefix("GET /v2/team/app/referrers/\(image.manifest.digest)?artifactType=application%2Fspdx%2Bjson") }, "\(proxy.log)")
        #expect(!proxy.log.contains { $0.contains("/manifests/sha256-") }, "\(proxy.log)")

        // A second attach through the API: nothing sent, nothing tagged.
        let again = try await Self.attach([Self.sbom], to: image.manifest, at: proxy.address, "team/app")
        #expect(again.uploaded == 0)
        #expect(!again.tagSchema)
    }

    @Test("bad inputs: a changed document, a referrer of another subject, a referrers tag that is not an index: each a clear error")
    func badInputs() async throws {
        let (scratch, registry, a, b) = try await Self.pushedPair()
        let onA = try await Self.attach([Self.sbom], to: a.manifest, at: registry.address, "app")
        let onB = try await Self.attach([Self.provenance], to: b.manifest, at: registry.address, "app")

        // The SBOM's bytes changed in the registry's storage (same length, one byte flipped).
        let hex = Digest.of(Self.sbom.bytes).encoded
        let stored = "\(registry.storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
        var tampered = try FileReader.readAll(path: stored, limit: 1 << 20)
        #expect(tampered == Self.sbom.bytes)
        tampered[tampered.count - 3] ^= 0x20
        try writeFile(stored, tampered)
        let reference = "\(registry.address)/app@\(onA.manifests[0].digest)"
        let changed = await #expect(throws: RegistryError.self) {
            try await Self.withClient(registry.address) { client in
                try await ReferrerReader(client: client).document("app", onA.manifests[0], of: a.manifest.digest)
            }
        }
        let changedText = try #require(changed).description
        #expect(changedText.hasPrefix("\(reference): the attached document"), "\(changedText)")
        #expect(changedText.contains("expected sha256:\(hex)"), "\(changedText)")
        #expect(changedText.contains("received \(Digest.of(tampered))"), "\(changedText)")
        #expect(!changedText.contains("\n"))
        let pulled = await #expect(throws: RegistryError.self) {
            try await Self.withClient(registry.address) { client in
                try await ImagePuller(client: client, withReferrers: true).pull(try ImageReference(parsing: "\(registry.address)/app:a"), into: scratch("pulled"))
            }
        }
        #expect(pulled?.description.contains("expected sha256:\(hex)") == true, "\(String(describing: pulled))")

        // a's referrers tag made to list b's provenance too: listed, but refused when read as a's.
        let tag = "sha256-\(a.manifest.digest.encoded)"
        let forged = try CanonicalJSON.encode(Index(manifests: onA.manifests + onB.manifests))
        try await Self.withClient(registry.address) { client in
            try await client.putManifest("app", reference: tag, bytes: forged, mediaType: .imageIndex)
            let reader = ReferrerReader(client: client)
            #expect(try await reader.referrers("app", of: a.manifest.digest).count == 2)
            let error = await #expect(throws: RegistryError.self) {
                try await reader.document("app", onB.manifests[0], of: a.manifest.digest)
            }
            #expect(
                error?.description == "\(registry.address)/app@\(onB.manifests[0].digest): the referrer's subject is \(b.manifest.digest), "
                    + "expected \(a.manifest.digest); it is listed among this image's referrers but is attached to another image")
        }
        let wrongSubject = await #expect(throws: RegistryError.self) {
            try await Self.withClient(registry.address) { client in
                try await ImagePuller(client: client, withReferrers: true).pull(try ImageReference(parsing: "\(registry.address)/app:a"), into: scratch("pulled2"))
            }
        }
        #expect(wrongSubject?.description.contains("the referrer's subject is \(b.manifest.digest)") == true, "\(String(describing: wrongSubject))")

        // b's referrers tag moved to an image manifest: neither attach nor read goes on.
        let manifestBytes = try LayoutDirectory(path: scratch("a")).blob(a.manifest.digest)
        try await Self.withClient(registry.address) { client in
            try await client.putManifest("app", reference: "sha256-\(b.manifest.digest.encoded)", bytes: manifestBytes, mediaType: .imageManifest)
            let attach = await #expect(throws: RegistryError.self) {
                try await ReferrerPusher(client: client, repository: "app").attach([Self.sbom], to: b.manifest)
            }
            #expect(
                attach?.description == "\(registry.address)/app:sha256-\(b.manifest.digest.encoded): the referrers tag holds a "
                    + "\(MediaType.imageManifest), expected an image index (\(MediaType.imageIndex)) listing the referrers; "
                    + "move or delete that tag before attaching")
            await #expect(throws: RegistryError.referrersTagNotIndex(
                reference: "\(registry.address)/app:sha256-\(b.manifest.digest.encoded)", mediaType: MediaType.imageManifest.rawValue)) {
                try await ReferrerReader(client: client).referrers("app", of: b.manifest.digest)
            }
            // Documents attach to manifests and indexes only.
            await #expect(throws: RegistryError.self) {
                try await ReferrerPusher(client: client, repository: "app").attach([Self.sbom], to: a.config)
            }
        }
    }
}

/// The referrers tag written while another writer writes it too; documents too large to read;
/// the choice among several documents of one type.
extension ReferrersTests {
    /// `PUT`s `bytes` as an image index under `reference` (`REPOSITORY/manifests/TAG`) of the
    /// registry at `address`, with curl: another writer, outside our client, from a proxy's rule.
    static func curlPutIndex(_ bytes: [UInt8], at address: String, _ path: String, scratch: String) -> Bool {
        let file = "\(scratch)/other-\(UUID().uuidString).json"
        guard (try? writeFile(file, bytes)) != nil else { return false }
        let result = try? run("curl", [
            "-sf", "-X", "PUT", "-H", "Content-Type: \(MediaType.imageIndex.rawValue)", "--data-binary", "@\(file)", "http://\(address)\(path)",
        ])
        return result?.status == 0
    }

    @Test("tag schema race: another writer replaces the tag right after our PUT; ours and the entries it listed are merged back")
    func tagSchemaRace() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("app")
        let sbom = try await Self.attach([Self.sbom], to: image.manifest, at: registry.address, "app").manifests[0]
        // The other writer's document: its manifest in the registry, not yet in the tag (pushed
        // past a referrers API double, which writes no tag).
        let double = try Self.referrersAPIDouble(upstream: registry)
        let other = try await Self.attach([Self.provenance], to: image.manifest, at: double.address, "app").manifests[0]
        #expect(try Self.skopeoReferrersIndex(registry.address, "app", of: image.manifest.digest).manifests == [sbom])

        // Our PUT of the tag lands; then the other writer's, made from what it read before the
        // SBOM was attached: an index listing only its own document.
        let tagPath = "/v2/app/manifests/sha256-\(image.manifest.digest.encoded)"
        let theirs = try CanonicalJSON.encode(Index(manifests: [other]))
        let puts = Mutex(0)
        let upstream = registry.address, directory = scratch.path
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            guard request.method == "PUT", request.path == tagPath else { return .pass }
            let first = puts.withLock { count -> Bool in
                count += 1
                return count == 1
            }
            guard first else { return .pass }
            guard Self.curlPutIndex(request.body, at: upstream, tagPath, scratch: directory),
                  Self.curlPutIndex(theirs, at: upstream, tagPath, scratch: directory)
            else { return .status(500) }
            return .respond(201, ["Docker-Content-Digest": Digest.of(request.body).description], "")
        }
        let cyclone = Attachment(
            artifactType: .cycloneDXJSON, bytes: Array(#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#.utf8),
            annotations: [AnnotationKey.title: "app.cdx.json"])
        let report = try await Self.attach([cyclone], to: image.manifest, at: proxy.address, "app")
        #expect(report.tagSchema)
        #expect(report.indexUpdated)
        // The tag lists the other writer's document, the SBOM it had lost and ours.
        let index = try Self.skopeoReferrersIndex(registry.address, "app", of: image.manifest.digest)
        #expect(index.manifests.map(\.digest) == [other.digest, sbom.digest, report.manifests[0].digest])
        #expect(proxy.log.filter { $0.hasPrefix("PUT \(tagPath) ") }.count == 2, "\(proxy.log)")
        #expect(proxy.log.filter { $0.hasPrefix("GET \(tagPath) ") }.count == 3, "\(proxy.log)")  // read, check, check
    }

    @Test("tag schema race: a tag that loses our entry after every write fails after 5 writes, naming what it lost")
    func tagSchemaContended() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("app")
        let tag = "sha256-\(image.manifest.digest.encoded)"
        let tagPath = "/v2/app/manifests/\(tag)"
        // Every one of our writes is followed by another writer's empty index.
        let empty = try CanonicalJSON.encode(Index(manifests: []))
        let upstream = registry.address, directory = scratch.path
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            guard request.method == "PUT", request.path == tagPath else { return .pass }
            guard Self.curlPutIndex(empty, at: upstream, tagPath, scratch: directory) else { return .status(500) }
            return .respond(201, ["Docker-Content-Digest": Digest.of(request.body).description], "")
        }
        // The digest the SBOM's artifact manifest has (attached past a referrers API double: no tag).
        let double = try Self.referrersAPIDouble(upstream: registry)
        let expected = try await Self.attach([Self.sbom], to: image.manifest, at: double.address, "app").manifests[0].digest
        let error = await #expect(throws: RegistryError.self) {
            try await Self.attach([Self.sbom], to: image.manifest, at: proxy.address, "app")
        }
        #expect(
            error?.description == "\(proxy.address)/app:\(tag): another writer replaced the referrers tag after each of 5 writes, "
                + "leaving out \(expected); attach again once the other pushes to this image are done")
        #expect(proxy.log.filter { $0.hasPrefix("PUT \(tagPath) ") }.count == 5, "\(proxy.log)")
    }

    @Test("size limits: a referrer manifest over 4 MiB and a document over 64 MiB are refused before they are fetched")
    func sizeLimits() async throws {
        let (scratch, registry, image) = try await Self.pushedImage("app")
        defer { withExtendedLifetime(scratch) {} }  // the registry stores into it
        let attached = try await Self.attach([Self.sbom], to: image.manifest, at: registry.address, "app").manifests[0]

        // An artifact manifest whose document is listed as 64 MiB and a byte, answered by the proxy.
        var huge = Manifest(
            config: .init(mediaType: .empty, digest: Digest.of(Array("{}".utf8)), size: 2, data: Data("{}".utf8)),
            layers: [Descriptor(mediaType: .spdxJSON, digest: Digest.of(Self.sbom.bytes), size: (64 << 20) + 1)])
        huge.artifactType = .spdxJSON
        huge.subject = Descriptor(mediaType: .imageManifest, digest: image.manifest.digest, size: image.manifest.size)
        let hugeBytes = try CanonicalJSON.encode(huge)
        let hugeDigest = Digest.of(hugeBytes)
        let proxy = try FaultProxy(upstreamPort: registry.port) { request in
            guard request.method == "GET", request.path == "/v2/app/manifests/\(hugeDigest)" else { return .pass }
            return .respond(
                200, ["Content-Type": MediaType.imageManifest.rawValue, "Docker-Content-Digest": hugeDigest.description],
                String(decoding: hugeBytes, as: UTF8.self))
        }
        try await Self.withClient(proxy.address) { client in
            let reader = ReferrerReader(client: client)
            var big = attached
            big.size = ReferrerReader.manifestSizeLimit + 1
            await #expect(throws: RegistryError.referrerTooLarge(
                reference: "\(proxy.address)/app@\(attached.digest)", what: "manifest", digest: attached.digest.description,
                size: 4_194_305, limit: 4_194_304)) {
                try await reader.document("app", big, of: image.manifest.digest)
            }
            let document = await #expect(throws: RegistryError.self) {
                try await reader.document(
                    "app", Descriptor(mediaType: .imageManifest, digest: hugeDigest, size: Int64(hugeBytes.count)), of: image.manifest.digest)
            }
            #expect(
                document?.description == "\(proxy.address)/app@\(hugeDigest): the document \(Digest.of(Self.sbom.bytes)) is listed as "
                    + "67108865 bytes (64.0 MiB), over the limit of 67108864 bytes (64.0 MiB) for a referrer's document; it was not fetched")
            // Within the limits, the same reader reads the real one.
            let real = try await reader.document("app", attached, of: image.manifest.digest)
            #expect(real.bytes == Self.sbom.bytes)
        }
        // Neither the large manifest nor the large document was asked for.
        #expect(!proxy.log.contains { $0.hasPrefix("GET /v2/app/blobs/") && !$0.contains(Digest.of(Self.sbom.bytes).description) }, "\(proxy.log)")
        #expect(proxy.log.filter { $0.hasPrefix("GET /v2/app/manifests/\(attached.digest) ") }.count == 1, "\(proxy.log)")
        #expect(proxy.log.filter { $0.hasPrefix("GET /v2/app/blobs/\(Digest.of(Self.sbom.bytes)) ") }.count == 1, "\(proxy.log)")
    }

    @Test("several SPDX referrers: the one titled *.spdx.json, then the newest created, then the highest digest; another image's is skipped; sbom --from reads that one")
    func choosing() async throws {
        let (scratch, registry, a, b) = try await Self.pushedPair()
        defer { withExtendedLifetime(scratch) {} }  // the registry stores into it
        func spdx(_ name: String, title: String, created: String? = nil) -> Attachment {
            var annotations = [AnnotationKey.title: title]
            annotations[AnnotationKey.created] = created
            return Attachment(artifactType: .spdxJSON, bytes: Array(#"{"SPDXID":"SPDXRef-DOCUMENT","name":"\#(name)","spdxVersion":"SPDX-2.3"}"#.utf8), annotations: annotations)
        }
        // What push attaches: NAME.spdx.json, no date.
        let ours = spdx("a", title: "a.spdx.json")
        let oursDigest = try await Self.attach([ours], to: a.manifest, at: registry.address, "app").manifests[0].digest
        // A scanner's SBOM, newer and (as found by trying) of a lower digest than ours.
        var scanner: Descriptor? = nil
        for n in 0..<64 {
            let attached = try await Self.attach([spdx("scan \(n)", title: "scan-result.json", created: "2030-01-01T00:00:00Z")], to: a.manifest, at: registry.address, "app")
            if attached.manifests[0].digest < oursDigest {
                scanner = attached.manifests[0]
                break
            }
        }
        #expect(scanner != nil)
        // b's SBOM, newest of all and titled like ours, listed under a's tag too.
        let onB = try await Self.attach([spdx("b", title: "b.spdx.json", created: "2031-01-01T00:00:00Z")], to: b.manifest, at: registry.address, "app")
        let tag = "sha256-\(a.manifest.digest.encoded)"
        let listed = try Self.skopeoReferrersIndex(registry.address, "app", of: a.manifest.digest)
        try await Self.withClient(registry.address) { client in
            try await client.putManifest("app", reference: tag, bytes: try CanonicalJSON.encode(Index(manifests: listed.manifests + onB.manifests)), mediaType: .imageIndex)
        }

        func chosen() async throws -> (descriptor: Descriptor, bytes: [UInt8])? {
            try await Self.withClient(registry.address) { client in
                try await ReferrerReader(client: client).attachedDocument("app", of: a.manifest.digest, artifactType: .spdxJSON, titleSuffix: "spdx.json")
                    .map { ($0.descriptor, $0.bytes) }
            }
        }
        let first = try #require(try await chosen())
        #expect(first.descriptor.digest == oursDigest)
        #expect(first.bytes == ours.bytes)
        let cli = try run(imagegenBinary, ["sbom", "--from", "\(registry.address)/app@\(a.manifest.digest)", "--insecure"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(Array(cli.stdout.utf8) == ours.bytes, "\(cli.stdout)")

        // A newer one of ours wins; one dated earlier (an offset, fractional seconds) does not.
        let newer = spdx("a newer", title: "a.spdx.json", created: "2024-05-01T00:00:00Z")
        let newerDigest = try await Self.attach([newer], to: a.manifest, at: registry.address, "app").manifests[0].digest
        _ = try await Self.attach([spdx("a earlier", title: "x.spdx.json", created: "2024-05-01T00:00:00.250+02:00")], to: a.manifest, at: registry.address, "app")
        #expect(try await chosen()?.descriptor.digest == newerDigest)
        // Dated alike: the higher digest.
        let twin = try await Self.attach([spdx("a twin", title: "a.spdx.json", created: "2024-05-01T00:00:00Z")], to: a.manifest, at: registry.address, "app").manifests[0].digest
        #expect(try await chosen()?.descriptor.digest == max(newerDigest, twin))
        // Nothing of the type: none.
        let none = try await Self.withClient(registry.address) { client in
            try await ReferrerReader(client: client).attachedDocument("app", of: a.manifest.digest, artifactType: .cycloneDXJSON, titleSuffix: "cdx.json")
        }
        #expect(none == nil)
    }
}
