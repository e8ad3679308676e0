import Foundation
import ImageGen
import Layers
import OCI
import TestSupport
import Testing

/// An image whose layer carries a zip's deflate streams as they are, handed to the tools
/// that read layers with Go's compress/gzip (skopeo, umoci, buildah) and to `imagegen verify`.
@Suite("Interop: layers that carry deflate streams")
struct DeflateReuseInteropTests {
    /// `imagegen pack fixture.whl` (reusing streams) and the same with `--recompress`.
    struct Packed {
        var zip: String
        var layout: String
        var diffID: String
        var recompressedDiffID: String
    }

    func pack(_ scratch: ScratchDirectory) throws -> Packed {
        let zip = scratch("fixture.whl")
        try ZipFixture.make(at: zip)
        func diffID(_ extra: [String], _ out: String) throws -> String {
            let result = try run(imagegenBinary, ["pack", zip, "--out", out, "--tag", "v1", "--json"] + extra)
            guard result.status == 0 else { throw FixtureError(message: "imagegen pack: \(result.stderr)") }
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return ((json?["diffIDs"] as? [String])?.first ?? "").replacing("sha256:", with: "")
        }
        return Packed(
            zip: zip, layout: scratch("image"), diffID: try diffID([], scratch("image")),
            recompressedDiffID: try diffID(["--recompress"], scratch("plain")))
    }

    @Test("imagegen verify accepts the layer; --recompress gives the same diff_id")
    func verify() throws {
        let scratch = try ScratchDirectory()
        let packed = try pack(scratch)
        #expect(packed.diffID == packed.recompressedDiffID)
        let result = try run(imagegenBinary, ["verify", packed.layout])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test("skopeo (Go's compress/gzip) re-encodes the layer as zstd; it decompresses to the diff_id's tar")
    func skopeo() throws {
        let scratch = try ScratchDirectory()
        let packed = try pack(scratch)
        let copy = try run("skopeo", ["copy", "--dest-compress-format", "zstd", "oci:\(packed.layout):v1", "oci:\(scratch("zstd")):v1"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let manifest = try run("skopeo", ["inspect", "--raw", "oci:\(scratch("zstd")):v1"])
        let json = try JSONSerialization.jsonObject(with: Data(manifest.stdout.utf8)) as? [String: Any]
        let layer = try #require((json?["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        let blob = scratch("zstd/blobs/sha256/") + layer.replacing("sha256:", with: "")
        let hash = try run("sh", ["-c", "zstd -dc \"$1\" | sha256sum", "sh", blob])
        #expect(hash.stdout.hasPrefix(packed.diffID), "\(hash.stderr)")
    }

    @Test("umoci unpacks the layer into the zip's files, byte for byte")
    func umoci() throws {
        let scratch = try ScratchDirectory()
        let packed = try pack(scratch)
        let rootless = getuid() == 0 ? [] : ["--rootless"]
        let unpack = try run("umoci", ["unpack"] + rootless + ["--image", "\(packed.layout):v1", scratch("bundle")])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        #expect(try ZipFixture.listing(ofTree: scratch("bundle/rootfs")) == ZipFixture.listing(of: packed.zip))
    }

    @Test("buildah (vfs storage) takes the image and mounts a root file system with the zip's files")
    func buildah() throws {
        let scratch = try ScratchDirectory()
        let packed = try pack(scratch)
        let storage = ["--root", scratch("storage/root"), "--runroot", scratch("storage/run"), "--storage-driver", "vfs"]
        // buildah names the image after the layout's path, which must then be lower case.
        let link = "/tmp/imagegen-reuse-\(UUID().uuidString.lowercased())"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: packed.layout)
        defer { try? FileManager.default.removeItem(atPath: link) }
        let from = try run("buildah", storage + ["from", "--name", "reuse", "oci:\(link):v1"])
        #expect(from.status == 0, "\(from.stderr)")
        let mount = try run("buildah", storage + ["mount", "reuse"])
        #expect(mount.status == 0, "\(mount.stderr)")
        let root = mount.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try ZipFixture.listing(ofTree: root) == ZipFixture.listing(of: packed.zip))
        _ = try run("buildah", storage + ["rm", "reuse"])
    }
}
