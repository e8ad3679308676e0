import Foundation
import ImageGen
import Layers
import OCI
import TestSupport
import Testing

/// Packs the fixture tree (and a second small layer) with `imagegen`'s library.
func packFixtureImage(
    in scratch: ScratchDirectory, format: OutputFormat = .both, compression: Compression = .gzip
) throws -> ImagePacker.Result {
    try makeFixtureTree(at: scratch("tree"))
    try writeFile(scratch("app/workspace/main.py"), "print('hello')\n", mode: 0o755)
    var options = ImagePacker.Options(inputs: [scratch("tree"), scratch("app")], output: scratch("image"))
    options.format = format
    options.tags = ["v1", "1.0.0"]
    options.repository = "imagegen-test"
    options.compression = compression
    options.buildTime = BuildTime(seconds: 1_700_000_000)
    options.config.env = ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    options.config.workingDir = "/workspace"
    options.config.entrypoint = ["/usr/bin/tool"]
    options.config.labels = ["org.opencontainers.image.title": "fixture"]
    return try ImagePacker(options: options).run()
}

@Suite("Interop: independent OCI tools accept our output")
struct InteropTests {
    // Debian's oci-image-tool (1.0.0-rc1) predates the zstd layer type, so it checks gzip layouts.
    @Test("oci-image-tool validates the layout")
    func ociImageTool() throws {
        let scratch = try ScratchDirectory()
        _ = try packFixtureImage(in: scratch, format: .layout, compression: .gzip)
        // `--type image` autodetects an image layout; this version has no separate imageLayout validator.
        let result = try run("oci-image-tool", ["validate", "--type", "image", scratch("image")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("Validation succeeded"))
    }

    @Test("umoci unpacks the layout into the same tree: contents, modes, symlinks, hard links, long names")
    func umociUnpack() throws {
        let scratch = try ScratchDirectory()
        _ = try packFixtureImage(in: scratch, format: .layout)
        let result = try run("umoci", ["unpack", "--image", scratch("image") + ":v1", scratch("bundle")])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = scratch("bundle/rootfs")
        let original = try DirectoryTree.entries(root: scratch("tree"), mtime: 0).map(\.header)
        var unpacked = try DirectoryTree.entries(root: rootfs, mtime: 0).map(\.header)
        unpacked.removeAll { $0.path.hasPrefix("workspace") }
        #expect(unpacked == original)
        let fm = FileManager.default
        #expect(fm.contents(atPath: "\(rootfs)/usr/share/data.bin") == fm.contents(atPath: scratch("tree/usr/share/data.bin")))
        #expect(fm.contents(atPath: "\(rootfs)/workspace/main.py") == Data("print('hello')\n".utf8))
        let a = try fm.attributesOfItem(atPath: "\(rootfs)/usr/share/data.bin")[.systemFileNumber] as? UInt64
        let b = try fm.attributesOfItem(atPath: "\(rootfs)/usr/share/data-hardlink.bin")[.systemFileNumber] as? UInt64
        #expect(a != nil && a == b)
        let config = try String(contentsOfFile: scratch("bundle/config.json"), encoding: .utf8)
        #expect(config.contains("LANG=C.UTF-8"))
        #expect(config.contains("\"cwd\": \"/workspace\"") || config.contains("\"cwd\":\"/workspace\""))
    }

    @Test("skopeo inspects the layout and copies the archive; digests survive")
    func skopeo() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .both)
        let inspect = try run("skopeo", ["inspect", "oci:\(scratch("image")):1.0.0"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        struct Inspect: Decodable {
            var Digest: String
            var Layers: [String]
            var Env: [String]
        }
        let info = try JSONDecoder().decode(Inspect.self, from: Data(inspect.stdout.utf8))
        #expect(info.Digest == packed.manifest.digest.description)
        #expect(info.Layers == packed.layers.map(\.descriptor.digest.description))
        #expect(info.Env.contains("LANG=C.UTF-8"))

        let copy = try run("skopeo", ["copy", "oci-archive:\(scratch("image.tar")):v1", "oci:\(scratch("copy")):copied"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let copied = try LayoutDirectory(path: scratch("copy")).index()
        #expect(copied.manifests.first?.digest == packed.manifest.digest)
        #expect(ImageVerifier().verify(path: scratch("copy")).ok)
    }

    @Test("skopeo copies a zstd image and keeps its layer digests")
    func skopeoZstd() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .both, compression: .zstd)
        let copy = try run("skopeo", ["copy", "oci-archive:\(scratch("image.tar")):v1", "oci:\(scratch("copy")):copied"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let inspect = try run("skopeo", ["inspect", "--raw", "oci:\(scratch("copy")):copied"])
        let manifest = try CanonicalJSON.decode(Manifest.self, from: Array(inspect.stdout.utf8), name: "manifest")
        #expect(manifest.layers.map(\.digest) == packed.layers.map(\.descriptor.digest))
        #expect(manifest.layers.allSatisfy { $0.mediaType == .layerTarZstd })
    }

    @Test("the archive carries the Docker manifest.json that docker load reads")
    func dockerManifest() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .archive)
        let archive = try ImageArchive(path: scratch("image"))
        #expect(archive.memberNames.contains("oci-layout"))
        let bytes = try #require(try archive.document("manifest.json", limit: 1 << 20))
        let docker = try JSONDecoder().decode([DockerArchiveManifest].self, from: Data(bytes))
        #expect(docker.count == 1)
        #expect(docker[0].repoTags == ["imagegen-test:v1", "imagegen-test:1.0.0"])
        #expect(docker[0].config == "blobs/sha256/\(packed.config.digest.encoded)")
        #expect(docker[0].layers == packed.layers.map { "blobs/sha256/\($0.descriptor.digest.encoded)" })
        // GNU tar reads the archive, and every member sits where the manifest says.
        let listing = try run("tar", ["-tf", scratch("image")])
        #expect(listing.status == 0)
        for layer in docker[0].layers { #expect(listing.stdout.contains(layer)) }
        #expect(!FileManager.default.fileExists(atPath: scratch("image.tar")))
    }

    @Test("GNU tar lists every layer of the layout")
    func gnuTar() throws {
        let scratch = try ScratchDirectory()
        let packed = try packFixtureImage(in: scratch, format: .layout)
        for layer in packed.layers {
            let result = try run("tar", ["-tzf", scratch("image/blobs/sha256/\(layer.descriptor.digest.encoded)")])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.split(separator: "\n").count == layer.entryCount)
        }
    }

    @Test("packing twice gives the same manifest digest; zstd and gzip differ only in blobs")
    func reproducible() throws {
        let a = try ScratchDirectory()
        let b = try ScratchDirectory()
        let first = try packFixtureImage(in: a, format: .both)
        let second = try packFixtureImage(in: b, format: .both)
        #expect(first.manifest.digest == second.manifest.digest)
        #expect(FileManager.default.contents(atPath: a("image.tar")) == FileManager.default.contents(atPath: b("image.tar")))
    }
}
