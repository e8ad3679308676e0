import Foundation
import ImageGen
import Layers
import OCI
import TestSupport
import Testing

/// A packed fixture image that a test may damage in one precise way.
struct DamageableImage {
    let scratch: ScratchDirectory
    let packed: ImagePacker.Result
    var layout: String { scratch("image") }
    var manifestDigest: Digest { packed.manifest.digest }

    init() throws {
        scratch = try ScratchDirectory()
        packed = try packFixtureImage(in: scratch, format: .layout)
    }

    func blobPath(_ digest: Digest) -> String { "\(layout)/blobs/sha256/\(digest.encoded)" }

    func readBlob(_ digest: Digest) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: blobPath(digest)))) }

    func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: blobPath(digest)))
    }

    func manifest() throws -> Manifest {
        try CanonicalJSON.decode(Manifest.self, from: readBlob(manifestDigest), name: "manifest")
    }

    /// Rewrites the manifest (and index.json to point at it); returns the new manifest digest.
    @discardableResult
    func rewriteManifest(_ change: (inout Manifest) throws -> Void) throws -> Digest {
        var manifest = try manifest()
        try change(&manifest)
        let writer = try LayoutWriter(path: layout)
        let descriptor = try writer.write(document: manifest, mediaType: .imageManifest)
        try rewriteIndex { index in
            for i in index.manifests.indices {
                index.manifests[i].digest = descriptor.digest
                index.manifests[i].size = descriptor.size
            }
        }
        return descriptor.digest
    }

    func rewriteIndex(_ change: (inout Index) throws -> Void) throws {
        var index = try LayoutDirectory(path: layout).index()
        try change(&index)
        try LayoutWriter(path: layout).writeIndex(index)
    }

    /// Replaces the image's layers by one gzip layer holding exactly these tar entries.
    func replaceLayers(with entries: [TarHeader]) throws {
        try replaceLayers(with: [entries])
    }

    /// Replaces the image's layers by gzip layers holding exactly these tar entries, lowest
    /// first; returns the new manifest.
    @discardableResult
    func replaceLayers(with layers: [[TarHeader]]) throws -> Manifest {
        let (descriptors, config) = try layersAndConfig(layers)
        var manifest = try manifest()
        try rewriteManifest {
            $0.layers = descriptors
            $0.config = config
            manifest = $0
        }
        return manifest
    }

    /// Writes gzip layers holding exactly these tar entries and a config naming their diff_ids.
    func layersAndConfig(_ layers: [[TarHeader]]) throws -> (layers: [Descriptor], config: Descriptor) {
        let writer = try LayoutWriter(path: layout)
        var descriptors: [Descriptor] = []
        var config = try CanonicalJSON.decode(ImageConfiguration.self, from: readBlob(packed.config.digest), name: "config")
        config.rootfs.diffIDs = []
        for entries in layers {
            var tar: [UInt8] = []
            for header in entries {
                tar += try header.encode()
                if header.kind == .regular, header.size > 0 {
                    tar += [UInt8](repeating: 0x61, count: Int(header.size)) + [UInt8](repeating: 0, count: TarHeader.padding(header.size))
                }
            }
            tar += TarHeader.endOfArchive
            let sink = MemorySink()
            let gzip = GzipCompressor(level: 6, threads: 1, output: sink)
            try tar.withUnsafeBytes { try gzip.write($0) }
            try gzip.finish()
            descriptors.append(try writer.write(blob: sink.bytes, mediaType: .layerTarGzip))
            config.rootfs.diffIDs.append(Digest.of(tar))
        }
        return (descriptors, try writer.write(document: config, mediaType: .imageConfig))
    }

    func problems(allowDevices: Bool = false) -> [String] {
        ImageVerifier(allowDevices: allowDevices).verify(path: layout).problems.map(\.description)
    }
}

@Suite("verify: finds each kind of damage, each with its own message")
struct VerifyTests {
    @Test("an undamaged layout and its archive verify clean")
    func clean() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .both)
        for path in [scratch("image"), scratch("image.tar")] {
            let report = ImageVerifier().verify(path: path)
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.manifests == 1)  // two tags name one manifest, checked once
            #expect(report.layers == 2)
            #expect(report.entries == packed.layers.map(\.entryCount).reduce(0, +))
        }
    }

    @Test("a flipped byte in any blob is a digest mismatch", arguments: ["layer", "config", "manifest"])
    func flippedByte(_ which: String) throws {
        let image = try DamageableImage()
        let digest = switch which {
        case "layer": image.packed.layers[1].descriptor.digest
        case "config": image.packed.config.digest
        default: image.manifestDigest
        }
        var bytes = try image.readBlob(digest)
        bytes[bytes.count / 2] ^= 0x01
        try image.writeBlob(digest, bytes)
        let location = switch which {
        case "layer": "layer 2 (\(digest))"
        case "config": "config (\(digest))"
        default: "manifest 1 (\(digest))"
        }
        let problems = image.problems()
        #expect(problems.contains { $0.hasPrefix("\(location): digest mismatch: expected \(digest), got sha256:") }, "\(problems)")
    }

    @Test("a truncated layer blob is a size mismatch")
    func truncated() throws {
        let image = try DamageableImage()
        let layer = image.packed.layers[0].descriptor
        try image.writeBlob(layer.digest, Array(try image.readBlob(layer.digest).prefix(100)))
        #expect(image.problems().contains(
            "layer 1 (\(layer.digest)): size mismatch: the descriptor says \(layer.size) bytes, the blob has 100"))
    }

    @Test("a missing blob is named")
    func missing() throws {
        let image = try DamageableImage()
        let layer = image.packed.layers[1].descriptor
        try FileManager.default.removeItem(atPath: image.blobPath(layer.digest))
        #expect(image.problems() == ["layer 2 (\(layer.digest)): blob is missing (blobs/sha256/\(layer.digest.encoded))"])
    }

    @Test("a wrong size in a descriptor is a size mismatch")
    func wrongSize() throws {
        let image = try DamageableImage()
        let layer = image.packed.layers[0].descriptor
        try image.rewriteManifest { $0.layers[0].size += 1 }
        #expect(image.problems().contains(
            "layer 1 (\(layer.digest)): size mismatch: the descriptor says \(layer.size + 1) bytes, the blob has \(layer.size)"))
    }

    @Test("a diff_id that does not match the uncompressed layer")
    func diffIDMismatch() throws {
        let image = try DamageableImage()
        var config = try CanonicalJSON.decode(ImageConfiguration.self, from: image.readBlob(image.packed.config.digest), name: "config")
        let wrong = Digest.of(Array("not this layer".utf8))
        config.rootfs.diffIDs[0] = wrong
        let descriptor = try LayoutWriter(path: image.layout).write(document: config, mediaType: .imageConfig)
        try image.rewriteManifest { $0.config = descriptor }
        let layer = image.packed.layers[0]
        #expect(image.problems().contains(
            "layer 1 (\(layer.descriptor.digest)): diff_id mismatch: the config says \(wrong), the uncompressed layer is \(layer.diffID)"))
    }

    @Test("a manifest whose config descriptor points at a layer blob")
    func wrongConfig() throws {
        let image = try DamageableImage()
        let layer = image.packed.layers[1].descriptor
        try image.rewriteManifest {
            $0.config.digest = layer.digest
            $0.config.size = layer.size
        }
        let problems = image.problems()
        #expect(problems.contains { $0.hasPrefix("config (\(layer.digest)): not an image configuration: config: malformed JSON") }, "\(problems)")
    }

    @Test("an unknown layer media type")
    func unknownMediaType() throws {
        let image = try DamageableImage()
        try image.rewriteManifest { $0.layers[0].mediaType = try MediaType(parsing: "application/x-not-a-layer") }
        let digest = image.packed.layers[0].descriptor.digest
        #expect(image.problems().contains(
            "layer 1 (\(digest)): unknown media type 'application/x-not-a-layer' (expected an OCI layer type)"))
    }

    @Test("malformed JSON in index.json")
    func malformedIndex() throws {
        let image = try DamageableImage()
        try Data("{\"schemaVersion\": 2, \"manifests\": [".utf8).write(to: URL(fileURLWithPath: image.layout + "/index.json"))
        #expect(image.problems() == ["index.json: malformed JSON: not valid JSON"])
    }

    @Test("a malformed digest in a descriptor is a schema error naming the field")
    func malformedDigest() throws {
        let image = try DamageableImage()
        let text = try String(contentsOfFile: image.layout + "/index.json", encoding: .utf8)
            .replacingOccurrences(of: image.manifestDigest.encoded, with: "XYZ")
        try Data(text.utf8).write(to: URL(fileURLWithPath: image.layout + "/index.json"))
        let problems = image.problems()
        #expect(problems.count == 1)
        #expect(problems[0].hasPrefix("index.json: malformed JSON: invalid digest 'sha256:XYZ'"), "\(problems)")
        #expect(problems[0].hasSuffix("at manifests[0].digest"))
    }

    @Test("unsafe layer entries", arguments: [
        ([TarHeader(path: "../evil", kind: .regular, mode: 0o644, size: 1)], "entry '../evil': path contains '..'"),
        ([TarHeader(path: "/etc/passwd", kind: .regular, mode: 0o644, size: 1)], "entry '/etc/passwd': absolute path"),
        ([TarHeader(path: "etc/link", kind: .symlink, mode: 0o777, linkTarget: "../../outside")],
         "entry 'etc/link': symlink to '../../outside' escapes the root"),
        ([TarHeader(path: "up", kind: .symlink, mode: 0o777, linkTarget: ".."),
          TarHeader(path: "up/x", kind: .regular, mode: 0o644, size: 1)],
         "entry 'up/x': escapes the root through a symlink in its path ('up', a symlink to '..' made earlier in this layer)"),
        ([TarHeader(path: "h", kind: .hardlink, mode: 0o644, linkTarget: "../../etc/shadow")],
         "entry 'h': hard link to '../../etc/shadow' points outside the layer"),
        ([TarHeader(path: "h", kind: .hardlink, mode: 0o644, linkTarget: "/etc/shadow")],
         "entry 'h': hard link to '/etc/shadow' points outside the layer"),
        ([TarHeader(path: "h", kind: .hardlink, mode: 0o644, linkTarget: "nowhere")],
         "entry 'h': hard link to 'nowhere', which is not a regular file earlier in this layer"),
        ([TarHeader(path: "dev/sda", kind: .blockDevice, mode: 0o660, deviceMajor: 8, deviceMinor: 0)],
         "entry 'dev/sda': device node (pass --allow-devices to accept)"),
    ])
    func unsafeEntries(_ entries: [TarHeader], _ message: String) throws {
        let image = try DamageableImage()
        try image.replaceLayers(with: entries)
        let problems = image.problems()
        #expect(problems.contains { $0.hasPrefix("layer 1 (sha256:") && $0.hasSuffix("): " + message) }, "\(problems)")
    }

    @Test("a layer with more unsafe entries than are listed says how many more there were")
    func manyProblems() throws {
        let image = try DamageableImage()
        try image.replaceLayers(with: (0..<25).map { TarHeader(path: "/abs\($0)", kind: .regular, mode: 0o644, size: 1) })
        let problems = image.problems()
        #expect(problems.filter { $0.contains("absolute path") }.count == 20, "\(problems)")
        #expect(problems.contains { $0.hasSuffix("): 5 more entry problems in this layer, not listed") }, "\(problems)")
    }

    @Test("safe links are accepted: absolute symlinks stay inside the root, devices with --allow-devices")
    func safeEntries() throws {
        let image = try DamageableImage()
        try image.replaceLayers(with: [
            TarHeader(path: "bin", kind: .symlink, mode: 0o777, linkTarget: "usr/bin"),
            TarHeader(path: "dev/null", kind: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3),
            TarHeader(path: "etc/alternatives/cc", kind: .symlink, mode: 0o777, linkTarget: "/usr/bin/gcc-12"),
            TarHeader(path: "usr/bin/gcc-12", kind: .regular, mode: 0o755, size: 4),
            TarHeader(path: "usr/bin/gcc", kind: .hardlink, mode: 0o755, linkTarget: "usr/bin/gcc-12"),
        ])
        #expect(image.problems(allowDevices: true) == [])
        let strict = image.problems(allowDevices: false)
        #expect(strict.count == 1)
        #expect(strict.first?.hasSuffix("): entry 'dev/null': device node (pass --allow-devices to accept)") == true)
    }

    @Test("damage inside an archive is found without unpacking it")
    func archive() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .archive)
        // Find the layer's bytes inside the tar and flip one.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: scratch("image"))))
        let name = Array("blobs/sha256/\(packed.layers[0].descriptor.digest.encoded)".utf8)
        // The member's tar header: the name at the start of a 512-byte block.
        let at = try #require(stride(from: 0, to: bytes.count - name.count, by: 512).first {
            bytes[$0..<($0 + name.count)].elementsEqual(name)
        })
        bytes[at + 512 + 40] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: scratch("image")))
        let problems = ImageVerifier().verify(path: scratch("image")).problems.map(\.description)
        #expect(problems.contains { $0.hasPrefix("layer 1 (\(packed.layers[0].descriptor.digest)): digest mismatch") }, "\(problems)")
    }

    @Test("a path that is neither a layout nor an archive")
    func notAnImage() throws {
        let scratch = try ScratchDirectory()
        #expect(ImageVerifier().verify(path: scratch("nope")).problems.map(\.description) == [
            "\(scratch("nope")): no such file or directory"
        ])
        try writeFile(scratch("x.tar.gz"), [0x1F, 0x8B, 8, 0, 0, 0, 0, 0])
        #expect(ImageVerifier().verify(path: scratch("x.tar.gz")).problems.first?.message.contains("gunzip it first") == true)
    }

    static func directory(_ path: String) -> TarHeader { TarHeader(path: path, kind: .directory, mode: 0o755) }
    static func file(_ path: String) -> TarHeader { TarHeader(path: path, kind: .regular, mode: 0o644, size: 1) }
    static func symlink(_ path: String, _ target: String) -> TarHeader { TarHeader(path: path, kind: .symlink, mode: 0o777, linkTarget: target) }
    static func hardlink(_ path: String, _ target: String) -> TarHeader { TarHeader(path: path, kind: .hardlink, mode: 0o644, linkTarget: target) }

    @Test("entries written through a symlink are refused wherever it points, and so are hard links through one", arguments: [
        ([[symlink("link", "/"), directory("link/etc"), file("link/etc/evil")]],
         ["layer 1", "entry 'link/etc/': is below 'link', a symlink to '/' made earlier in this layer; an extractor would write through the link",
          "entry 'link/etc/evil': is below 'link', a symlink to '/' made earlier in this layer; an extractor would write through the link"]),
        ([[directory("usr"), symlink("usr/lib64", "lib")], [file("usr/lib64/libc.so.6")]],
         ["layer 2", "entry 'usr/lib64/libc.so.6': is below 'usr/lib64', a symlink to 'lib' made in a lower layer; an extractor would write through the link"]),
        ([[directory("usr"), file("usr/f"), symlink("link", "usr"), hardlink("h", "link/f")]],
         ["layer 1", "entry 'h': hard link to 'link/f' goes through 'link', a symlink to 'usr' made earlier in this layer"]),
        ([[file("f"), symlink("link", "/"), hardlink("link/h", "f")]],
         ["layer 1", "entry 'link/h': is below 'link', a symlink to '/' made earlier in this layer; an extractor would write through the link"]),
        // A whiteout hides what lower layers made, never a symlink of its own layer (layer.md, "Whiteouts").
        ([[symlink("link", "/"), file(".wh.link"), file("link/x")]],
         ["layer 1", "entry 'link/x': is below 'link', a symlink to '/' made earlier in this layer; an extractor would write through the link"]),
        ([[directory("d"), symlink("d/link", "/")], [file("d/.wh..wh..opq"), symlink("d/link", "/etc"), file("d/link/passwd")]],
         ["layer 2", "entry 'd/link/passwd': is below 'd/link', a symlink to '/etc' made earlier in this layer; an extractor would write through the link"]),
    ])
    func throughSymlinks(_ layers: [[TarHeader]], _ expected: [String]) throws {
        let image = try DamageableImage()
        let manifest = try image.replaceLayers(with: layers)
        let location = "\(expected[0]) (\(manifest.layers[Int(expected[0].dropFirst(6))! - 1].digest))"
        #expect(image.problems() == expected.dropFirst().map { "\(location): \($0)" })
    }

    @Test("a symlink replaced by a directory, a file or a whiteout (in a later layer), or by a directory in its own layer, is no longer one", arguments: [
        [[symlink("link", "/")], [file(".wh.link"), directory("link"), file("link/x")]],
        [[symlink("link", "/")], [directory("link"), file("link/x")]],
        [[symlink("link", "/")], [file("link"), file("other")], [file(".wh.link"), directory("link"), file("link/x")]],
        [[symlink("link", "/"), directory("link"), file("link/x")]],
        [[directory("d"), symlink("d/link", "/")], [file("d/.wh..wh..opq"), directory("d/link"), file("d/link/x")]],
        [[directory("d"), symlink("d/link", "/")], [file("d")], [directory("d"), file("d/link/x")]],
        [[directory("usr"), file("usr/f"), hardlink("usr/g", "usr/f"), symlink("bin", "usr/bin")]],
    ])
    func replacedSymlinks(_ layers: [[TarHeader]]) throws {
        let image = try DamageableImage()
        try image.replaceLayers(with: layers)
        #expect(image.problems() == [])
    }

    @Test("a layer blob that comes again under another manifest is checked on that manifest's lower layers")
    func sharedLayer() throws {
        let image = try DamageableImage()
        let first = try image.replaceLayers(with: [[Self.directory("link")], [Self.file("link/x")]])
        #expect(image.problems() == [])
        // Manifest 2 puts the same upper layer on a symlink; manifest 3 reuses that symlink layer.
        let (second, secondConfig) = try image.layersAndConfig([[Self.symlink("link", "/")], [Self.file("link/x")]])
        let (third, thirdConfig) = try image.layersAndConfig([[Self.symlink("link", "/")], [Self.file("link/y")]])
        #expect(second[1].digest == first.layers[1].digest && third[0].digest == second[0].digest)
        let writer = try LayoutWriter(path: image.layout)
        var added: [Descriptor] = []
        for (layers, config) in [(second, secondConfig), (third, thirdConfig)] {
            var manifest = first
            manifest.layers = layers
            manifest.config = config
            added.append(try writer.write(document: manifest, mediaType: .imageManifest))
        }
        try image.rewriteIndex { $0.manifests += added }
        let message = "a symlink to '/' made in a lower layer; an extractor would write through the link"
        #expect(image.problems() == [
            "layer 2 (\(first.layers[1].digest)): entry 'link/x': is below 'link', \(message)",
            "layer 2 (\(third[1].digest)): entry 'link/y': is below 'link', \(message)",
        ])
    }

    /// Adds to the layout a Notation signature of the image (its config of Notation's own type,
    /// `subject` the image, as `pull --with-referrers` brings it) and an artifact that declares an
    /// `artifactType` with no subject; returns their config and layer descriptors.
    static func addArtifacts(to image: DamageableImage) throws -> (signatureConfig: Descriptor, signature: Descriptor, report: Descriptor) {
        let writer = try LayoutWriter(path: image.layout)
        let notary = try MediaType(parsing: "application/vnd.cncf.notary.signature")
        let signatureConfig = try writer.write(blob: Array(#"{"notation":"1.0"}"#.utf8), mediaType: notary)
        let signature = try writer.write(
            blob: Array(#"{"payload":"eyJ0YXJnZXRBcnRpZmFjdCI6e319","protected":"e30","signature":"c2ln"}"#.utf8),
            mediaType: try MediaType(parsing: "application/jose+json"))
        var signed = Manifest(config: signatureConfig, layers: [signature])
        signed.subject = Descriptor(mediaType: .imageManifest, digest: image.manifestDigest, size: Int64(try image.readBlob(image.manifestDigest).count))
        let signedDescriptor = try writer.write(document: signed, mediaType: .imageManifest)

        let empty = try writer.write(blob: Array("{}".utf8), mediaType: .empty)
        let report = try writer.write(blob: Array("scan: nothing found\n".utf8), mediaType: try MediaType(parsing: "text/plain"))
        var standalone = Manifest(config: empty, layers: [report])
        standalone.artifactType = try MediaType(parsing: "application/vnd.example.scan-report")
        let standaloneDescriptor = try writer.write(document: standalone, mediaType: .imageManifest)
        try image.rewriteIndex { index in
            index.manifests += [
                Descriptor(mediaType: .imageManifest, digest: signedDescriptor.digest, size: signedDescriptor.size, artifactType: notary),
                Descriptor(mediaType: .imageManifest, digest: standaloneDescriptor.digest, size: standaloneDescriptor.size, artifactType: standalone.artifactType),
            ]
        }
        return (signatureConfig, signature, report)
    }

    @Test("an artifact with a config of its own type (a Notation signature) or an artifactType is checked by size and digest only")
    func artifacts() throws {
        let image = try DamageableImage()
        let added = try Self.addArtifacts(to: image)
        let report = ImageVerifier().verify(path: image.layout)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.manifests == 1)  // the artifacts are not images
        #expect(report.layers == 2)

        // Their blobs are still read: a changed signature, a truncated config, a missing report.
        var signature = try image.readBlob(added.signature.digest)
        signature[signature.count - 3] ^= 0x01
        try image.writeBlob(added.signature.digest, signature)
        let config = try image.readBlob(added.signatureConfig.digest)
        try image.writeBlob(added.signatureConfig.digest, Array(config.dropLast()))
        try FileManager.default.removeItem(atPath: image.blobPath(added.report.digest))
        #expect(image.problems() == [
            "config (\(added.signatureConfig.digest)): size mismatch: the descriptor says \(config.count) bytes, the blob has \(config.count - 1)",
            "config (\(added.signatureConfig.digest)): digest mismatch: expected \(added.signatureConfig.digest), got \(Digest.of(Array(config.dropLast())))",
            "document 1 (\(added.signature.digest)): digest mismatch: expected \(added.signature.digest), got \(Digest.of(signature))",
            "document 1 (\(added.report.digest)): blob is missing (blobs/sha256/\(added.report.digest.encoded))",
        ])
    }

    @Test("an image manifest with a subject is still an image: its layers are read and checked")
    func imageWithSubject() throws {
        let image = try DamageableImage()
        let (layers, config) = try image.layersAndConfig([[Self.symlink("link", "/")], [Self.file("link/x")]])
        try image.rewriteManifest {
            $0.layers = layers
            $0.config = config
            $0.subject = Descriptor(mediaType: .imageManifest, digest: Digest.of(Array("base".utf8)), size: 4)
        }
        let report = ImageVerifier().verify(path: image.layout)
        #expect(report.manifests == 1)
        #expect(report.layers == 2)
        #expect(report.problems.map(\.description).contains { $0.hasSuffix("entry 'link/x': is below 'link', a symlink to '/' made in a lower layer; an extractor would write through the link") }, "\(report.problems)")
    }

    @Test("an index that lists no manifest is a problem, not 'ok (0 manifests…)'")
    func emptyIndex() throws {
        let image = try DamageableImage()
        try image.rewriteIndex { $0.manifests = [] }
        let report = ImageVerifier().verify(path: image.layout)
        #expect(report.problems.map(\.description) == ["index.json: lists no manifest (expected at least one image manifest or index)"])
        #expect(!report.ok)
        let cli = try imagegen(["verify", image.layout])
        #expect(cli.status == 1)
        #expect(cli.stderr.contains("index.json: lists no manifest (expected at least one image manifest or index)\n"))
        #expect(!cli.stderr.contains("ok ("), "\(cli.stderr)")
    }
}
