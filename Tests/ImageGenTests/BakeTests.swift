import Foundation
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// `imagegen bake` with no names: every spec that can be rendered, and one line for each one
/// left out, with the reason.
@Suite("bake with no names")
struct BakeTests {
    static let images = "\(packageRoot)/Images"

    /// The pip wheel of the repository's locks, in the default artifact cache (`imagegen build`
    /// or `dockerfile` of any spec fetches it).
    static let pipWheelCached: Bool = {
        let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { "\($0)/imagegen" } ?? NSHomeDirectory() + "/.cache/imagegen"
        guard let lock = try? Lockfile.load(path: "\(images)/v2.7.lock.json"), let pip = lock.wheels.first(where: { $0.name == "pip" })
        else { return false }
        return FileManager.default.fileExists(atPath: "\(cache)/artifacts/sha256/\(pip.sha256.encoded)")
    }()

    /// The reason cuda-smoke (no pip in its lock) is left out; the lock is named as in the
    /// repository (`Images/…`, the folder's own name), whatever the folder's path.
    static let noPip = "Images/cuda-smoke.lock.json: the Dockerfile installs the locked wheels with the lock's own pip, and this lock has none; "
        + "add `packages: [pip]` to cuda-smoke.yaml and run `imagegen lock cuda-smoke`"

    /// Copies `names`' spec and lock from the repository's Images/ into `directory`.
    static func copy(_ names: [String], into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in names {
            for file in ["\(name).yaml", "\(name).lock.json"] {
                try FileManager.default.copyItem(atPath: "\(images)/\(file)", toPath: "\(directory)/\(file)")
            }
        }
    }

    @Test("the shipped Images/: every spec but cuda-smoke, which says why it is left out")
    func shipped() throws {
        let (models, leftOut) = try DockerfileTests.generator().everySpec()
        let locked = try FileManager.default.contentsOfDirectory(atPath: Self.images).filter { $0.hasSuffix(".lock.json") }
            .map { String($0.dropLast(".lock.json".count)) }.filter { $0 != "cuda-smoke" }.sorted()
        #expect(models.map(\.image.spec.name) == locked)
        #expect(leftOut == [DockerfileGenerator.LeftOut(name: "cuda-smoke", reason: Self.noPip)])
        #expect(leftOut.first?.description == "left out cuda-smoke: \(Self.noPip)")
    }

    @Test("each reason: no lock, a lock without its spec, a stale lock, no pip; the renderable spec stays")
    func reasons() throws {
        let scratch = try ScratchDirectory("imagegen-bake")
        let images = scratch("Images")
        try Self.copy(["v2.7", "v2.8", "cuda-smoke"], into: images)
        try writeFile("\(images)/draft.yaml", "name: draft\n")
        try FileManager.default.copyItem(atPath: "\(Self.images)/v2.6.lock.json", toPath: "\(images)/orphan.lock.json")
        let spec = try String(contentsOfFile: "\(images)/v2.8.yaml", encoding: .utf8)
        try writeFile("\(images)/v2.8.yaml", spec.replacingOccurrences(of: "\ndescription: ", with: "\ndescription: changed "))

        let (models, leftOut) = try DockerfileTests.generator(images: images).everySpec()
        #expect(models.map(\.image.spec.name) == ["v2.7"])
        #expect(leftOut.map(\.description) == [
            "left out cuda-smoke: \(Self.noPip)",
            "left out draft: \(images)/draft.yaml has no lock (\(images)/draft.lock.json); run `imagegen lock draft`",
            "left out orphan: \(images)/orphan.lock.json has no spec (\(images)/orphan.yaml)",
            "left out v2.8: \(images)/v2.8.lock.json: stale: \(images)/v2.8.yaml changed since it was locked; run `imagegen lock v2.8`",
        ])
    }

    @Test("nothing to render: every spec left out with its reason; the CLI prints each on its own line, writes nothing and exits 1")
    func nothing() throws {
        let scratch = try ScratchDirectory("imagegen-bake")
        let images = scratch("Images")
        try Self.copy(["cuda-smoke"], into: images)
        try writeFile("\(images)/draft.yaml", "name: draft\n")
        let draft = "left out draft: \(images)/draft.yaml has no lock (\(images)/draft.lock.json); run `imagegen lock draft`"
        let (models, leftOut) = try DockerfileTests.generator(images: images).everySpec()
        #expect(models.isEmpty)
        #expect(leftOut.map(\.description) == ["left out cuda-smoke: \(Self.noPip)", draft])
        let cli = try imagegen(["bake", "--images", images, "--out", scratch("out"), "--offline", "--cache", scratch("cache")])
        #expect(cli.status == 1)
        #expect(cli.stderr == "bake: left out cuda-smoke: \(Self.noPip)\nbake: \(draft)\nError: \(images): no spec can be rendered as a "
            + "Dockerfile (2 left out, each with its reason above); wrote nothing\n", "\(cli.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out")))
    }

    @Test("imagegen bake on the shipped Images/ exits 0: a target per renderable spec, one line for cuda-smoke",
          .enabled(if: pipWheelCached, "needs the locks' pip wheel in the artifact cache (imagegen dockerfile v2.7 fetches it)"))
    func cli() throws {
        let scratch = try ScratchDirectory("imagegen-bake")
        let result = try imagegen(["bake", "--images", Self.images, "--out", scratch("out"), "--offline", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("bake: left out cuda-smoke: \(Self.noPip)\n"), "\(result.stderr)")
        let bake = try JSONSerialization.jsonObject(with: Data(try FileReader.readAll(path: scratch("out/docker-bake.json"), limit: 1 << 20)))
        let targets = try #require((bake as? [String: Any])?["target"] as? [String: Any])
        let (models, _) = try DockerfileTests.generator().everySpec()
        #expect(Set(targets.keys) == Set(models.map { $0.image.spec.name.replacingOccurrences(of: ".", with: "-") }))
        #expect(!FileManager.default.fileExists(atPath: scratch("out/cuda-smoke")))
        for model in models { #expect(FileManager.default.fileExists(atPath: scratch("out/\(model.image.spec.name)/Dockerfile"))) }
    }
}
