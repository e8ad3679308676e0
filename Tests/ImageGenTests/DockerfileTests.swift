import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// `imagegen dockerfile` and `imagegen bake`: the rendered Dockerfile of the real specs against
/// a golden file, the lint of our own output and of bad Dockerfiles, templates, the bake file.
@Suite("Dockerfiles from Templates/")
struct DockerfileTests {
    /// A generator over the repository's `Images/`, SOURCE_DATE_EPOCH unset (created: the lock's date).
    static func generator(images: String = "\(packageRoot)/Images", template: String? = nil, cache: String = "/nonexistent") throws -> DockerfileGenerator {
        var options = Builder.Options(images: images, catalog: try Catalog.builtin(), cacheDirectory: cache)
        options.sourceDateEpoch = nil
        options.offline = true
        return DockerfileGenerator(options: options, templatePath: template, imagegenVersion: "0.1.0")
    }

    /// The golden Dockerfile of v2.7. `IMAGEGEN_UPDATE_GOLDEN=1` rewrites it.
    static let golden = "\(packageRoot)/Tests/Golden/v2.7.Dockerfile"

    @Test("the Dockerfile of Images/v2.7.yaml equals the golden file, and `imagegen dockerfile --stdout` prints it")
    func goldenDockerfile() throws {
        let generator = try Self.generator()
        let text = try generator.render(try generator.model("v2.7"))
        if ProcessInfo.processInfo.environment["IMAGEGEN_UPDATE_GOLDEN"] == "1" {
            try writeFile(Self.golden, text)
        }
        let expected = try String(contentsOfFile: Self.golden, encoding: .utf8)
        #expect(text == expected, "the rendered Dockerfile differs from Tests/Golden/v2.7.Dockerfile (IMAGEGEN_UPDATE_GOLDEN=1 rewrites it)")

        let cli = try run(imagegenBinary, ["dockerfile", "v2.7", "--stdout", "--images", "\(packageRoot)/Images"], environment: ["SOURCE_DATE_EPOCH": ""])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout == expected)
    }

    @Test("the Dockerfile follows the lock: one RUN per component in layer order, every deb and wheel pinned")
    func followsTheLock() throws {
        let generator = try Self.generator()
        let model = try generator.model("v2.7")
        let text = try generator.render(model)
        let lock = model.lock
        for deb in lock.debs { #expect(text.contains("        \(deb.name)=\(deb.version) \\\n"), "\(deb.name)") }
        let requirements = model.components.map(model.requirements).joined()
        for wheel in lock.wheels {
            #expect(requirements.contains("\(wheel.name)==\(wheel.version) --hash=sha256:\(wheel.sha256.encoded)\n"), "\(wheel.name)")
        }
        // The component steps, in the order of the OCI layers, then config.
        let steps = text.split(separator: "\n").filter { $0.hasPrefix("# ") && $0.contains(": ") && !$0.hasPrefix("#  ") }
            .map { String($0.dropFirst(2).split(separator: ":")[0]) }
        #expect(Array(steps.suffix(9)) == ["base", "python", "cuda", "cudnn", "nccl", "torch", "packages", "tools", "config"])
        #expect(text.contains("# (sha256:\(Digest.of(try FileReader.readAll(path: "\(packageRoot)/Images/v2.7.lock.json", limit: 1 << 26)).encoded);"))
        #expect(text.contains("ARG BASE=docker.io/library/debian:bookworm-slim@sha256:"))
        #expect(text.contains("ENTRYPOINT [\"/usr/local/bin/imagegen-entrypoint\"]"))
        #expect(text.contains("EXPOSE 8888/tcp 22/tcp"))
    }

    @Test("a multi-platform lock: one Dockerfile, each architecture's own debs in a case on dpkg's architecture, a wheel's hashes for every platform")
    func multiPlatform() throws {
        let generator = try Self.generator()
        let model = try generator.model("v2.15")
        let text = try generator.render(model)  // throws on a lint problem
        let lock = model.lock
        let arm64 = try #require(lock.forPlatform("linux/arm64"))
        #expect(text.contains("#   docker buildx build --platform linux/amd64,linux/arm64 -t v2.15 ."))
        // Every deb of either platform is pinned: in the common list, or in its architecture's branch.
        let amd64Branch = try #require(text.split(separator: "\n").first { $0.contains("amd64) imagegen_debs=\"") })
        let arm64Branch = try #require(text.split(separator: "\n").first { $0.contains("arm64) imagegen_debs=\"") })
        for (debs, branch) in [(lock.debs, amd64Branch), (arm64.debs, arm64Branch)] {
            for deb in debs {
                #expect(text.contains("        \(deb.name)=\(deb.version) \\\n") || branch.contains(" \(deb.name)=\(deb.version)"), "\(deb.name)")
            }
        }
        #expect(arm64Branch.contains(" binutils-aarch64-linux-gnu=") && !arm64Branch.contains("x86-64"))
        #expect(text.contains("case \"$(dpkg --print-architecture)\" in"))

        // The step as a shell runs it, with dpkg saying arm64 and apt-get (a stub) recording its
        // arguments: install comes first, then the common packages and arm64's own.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let caseLine = try #require(lines.firstIndex { $0.contains("imagegen_debs=\"\"") })
        let runLine = try #require(lines[..<caseLine].lastIndex { $0.hasPrefix("RUN ") })
        var end = caseLine
        while lines[end].hasSuffix("\\") { end += 1 }
        let scratch = try ScratchDirectory()
        try writeFile(scratch("bin/dpkg"), "#!/bin/sh\necho arm64\n", mode: 0o755)
        try writeFile(scratch("bin/apt-get"), "#!/bin/sh\necho \"$*\" >> \"$APT_LOG\"\n", mode: 0o755)
        try writeFile(scratch("bin/rm"), "#!/bin/sh\nexit 0\n", mode: 0o755)  // the step removes apt's lists
        try writeFile(scratch("step.sh"), lines[(runLine + 1)...end].joined(separator: "\n") + "\n")
        _ = try run("/bin/sh", [scratch("step.sh")], environment: [
            "PATH": scratch("bin") + ":/usr/bin:/bin", "APT_LOG": scratch("apt.log"), "APT_SOURCES": "",
        ])
        let calls = try String(contentsOfFile: scratch("apt.log"), encoding: .utf8).split(separator: "\n")
        #expect(calls.first == "update")
        let install = try #require(calls.dropFirst().first).split(separator: " ").map(String.init)
        #expect(Array(install.prefix(4)) == ["install", "-y", "--no-install-recommends", "--allow-downgrades"])
        #expect(install.contains("binutils-aarch64-linux-gnu=2.40-2") && install.contains("binutils=2.40-2"), "\(install)")
        #expect(!install.contains { $0.contains("x86-64") }, "\(install)")
        // Wheels: one line with both platforms' hashes when the version is the same.
        let requirements = model.components.map(model.requirements).joined()
        let torch = (lock.wheels.first { $0.name == "torch" }!, arm64.wheels.first { $0.name == "torch" }!)
        #expect(torch.0.version == torch.1.version)
        let line = try #require(requirements.split(separator: "\n").first { $0.hasPrefix("torch==") })
        #expect(line.contains("--hash=sha256:\(torch.0.sha256.encoded)") && line.contains("--hash=sha256:\(torch.1.sha256.encoded)"))
        for wheel in lock.wheels + arm64.wheels { #expect(requirements.contains("--hash=sha256:\(wheel.sha256.encoded)"), "\(wheel.fileName)") }
        #expect(DockerfileLint.check(text) { path in
            model.contextFiles.first { "imagegen/" + $0.path == path || "/run/imagegen/" + $0.path == path }.map { String(decoding: $0.bytes, as: UTF8.self) }
        }.isEmpty)

        // The bake file builds both platforms.
        let bake = BakeFile(models: [model], repository: "ghcr.io/acme/pytorch", cacheRepository: nil) { _ in "." }
        #expect(bake.targets.map(\.platforms) == [["linux/amd64", "linux/arm64"]])
        #expect(bake.hcl.contains("platforms = [\"linux/amd64\", \"linux/arm64\"]"), "\(bake.hcl)")
    }

    @Test("every spec of Images/ renders a Dockerfile that passes the lint; devel checks nvcc")
    func everySpecLints() throws {
        let generator = try Self.generator()
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(packageRoot)/Images")
            .filter { $0.hasSuffix(".lock.json") }.map { String($0.dropLast(10)) }
        #expect(names.count >= 4)
        for name in names {
            if name == "cuda-smoke" {
                // A minimal image without pip (docs/gpu.md): no Dockerfile can install its wheels, and it says so.
                #expect { try generator.model(name) } throws: { "\($0)".contains("this lock has none; add `packages: [pip]`") }
                continue
            }
            let model = try generator.model(name)
            let text = try generator.render(model)  // throws on a lint problem
            #expect(DockerfileLint.check(text) { _ in "x==1 --hash=sha256:\(String(repeating: "0", count: 64))\n" }.isEmpty)
            #expect(text.contains("nvcc --version") == (model.flavour == "devel"), "\(name)")
        }
        // NVCC's place: a folder per wheel up to CUDA 12, one shared folder from CUDA 13 on.
        #expect(try generator.render(try generator.model("v2.7-devel")).contains("/site-packages/nvidia/cuda_nvcc/bin/nvcc --version"))
        #expect(try generator.render(try generator.model("v2.15-devel")).contains("/site-packages/nvidia/cu13/bin/nvcc --version"))
    }

    @Test("the lint names each unpinned install, latest, a remote ADD and missing hashes", arguments: [
        ("FROM debian:latest\n", "not pinned by digest"),
        ("FROM debian:latest@sha256:\(String(repeating: "a", count: 64))\n", "names the tag latest"),
        ("ARG BASE\nFROM ${BASE}\n", "no pinned default"),
        ("FROM scratch\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n", "apt-get install curl: not pinned"),
        ("FROM scratch\nRUN apt-get install -y curl=7.88 && rm -rf /var/lib/apt/lists/*\n", "without --no-install-recommends"),
        ("FROM scratch\nRUN apt-get install -y --no-install-recommends curl=7.88\n", "does not remove /var/lib/apt/lists/*"),
        ("FROM scratch\nRUN pip install --require-hashes --no-deps --only-binary=:all: torch\n", "pip install torch: install from a requirements file"),
        ("FROM scratch\nRUN pip install --no-deps --only-binary=:all: -r imagegen/requirements/x.txt\n", "pip install without --require-hashes"),
        ("FROM scratch\nRUN pip install --require-hashes --no-deps --only-binary=:all: -r imagegen/requirements/unpinned.txt\n", "torch>=2 is not pinned"),
        ("FROM scratch\nRUN pip install --require-hashes --no-deps --only-binary=:all: -r imagegen/requirements/nohash.txt\n", "has no --hash=sha256:"),
        ("FROM scratch\nRUN pip install --require-hashes --no-deps --only-binary=:all: -r missing.txt\n", "not in the build context"),
        ("FROM scratch\nADD https://example.invalid/x.tar.gz /\n", "a remote URL"),
        ("FROM scratch\nRUN case x in amd64) imagegen_debs=\" binutils a=1\" ;; esac; apt-get install -y --no-install-recommends a=1 $imagegen_debs; rm -rf /var/lib/apt/lists/*\n",
         "apt-get install binutils: not pinned"),
    ])
    func lintFindsProblems(dockerfile: String, message: String) {
        let files = [
            "imagegen/requirements/x.txt": "torch==2.7.0 --hash=sha256:\(String(repeating: "0", count: 64))\n",
            "imagegen/requirements/unpinned.txt": "torch>=2 --hash=sha256:\(String(repeating: "0", count: 64))\n",
            "imagegen/requirements/nohash.txt": "torch==2.7.0\n",
        ]
        let problems = DockerfileLint.check(dockerfile) { files[$0] }
        #expect(problems.contains { $0.description.contains(message) }, "\(problems)")
        #expect(problems.allSatisfy { $0.line >= 1 })
    }

    @Test("a user's template renders the same model; a bad template and an unpinned one are refused with file and line")
    func userTemplates() throws {
        let scratch = try ScratchDirectory()
        let good = "\(scratch.path)/good.mustache"
        try writeFile(good, "{{% CONTENT_TYPE: TEXT }}\nARG BASE={{base}}\nFROM ${BASE}\n# {{image.name}} {{lock.sha256}}\n{{> components}}\n{{#env}}ENV {{key}}={{{quoted}}}\n{{/env}}")
        let text = try Self.generator(template: good).render(try Self.generator().model("v2.7"))
        #expect(text.hasPrefix("ARG BASE=docker.io/library/debian:bookworm-slim@sha256:"))
        #expect(text.contains("ENV CUDA_VERSION=\"12.6\""))
        #expect(text.contains("torch=") == false && text.contains("requirements/torch.txt"))

        let broken = "\(scratch.path)/broken.mustache"
        try writeFile(broken, "FROM x\n{{#components}}\nRUN true\n")
        let parse = #expect(throws: ImageGenError.self) { try Self.generator(template: broken).render(try Self.generator().model("v2.7")) }
        #expect("\(parse!)".hasPrefix("\(broken):"), "\(parse!)")
        #expect("\(parse!)".contains("not a valid Mustache template"))

        let unpinned = "\(scratch.path)/unpinned.mustache"
        try writeFile(unpinned, "FROM debian:bookworm\nRUN apt-get install -y curl\n")
        let lint = #expect(throws: ImageGenError.self) { try Self.generator(template: unpinned).render(try Self.generator().model("v2.7")) }
        #expect("\(lint!)".contains("does not pin what it installs"))
        #expect("\(lint!)".contains("line 1: FROM debian:bookworm: the base is not pinned by digest"))
        #expect("\(lint!)".contains("line 2: apt-get install curl: not pinned"))

        let missing = try run(imagegenBinary, ["dockerfile", "v2.7", "--stdout", "--images", "\(packageRoot)/Images", "--template", "\(scratch.path)/none.mustache"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(scratch.path)/none.mustache: cannot read the template"))
        #expect(missing.stdout.isEmpty)
    }

    @Test("a lock with wheels but no pip, a stale lock and an unknown spec are refused in one line")
    func badLocks() throws {
        let scratch = try ScratchDirectory()
        let images = "\(scratch.path)/Images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        for file in ["v2.7.yaml", "v2.7.lock.json"] { try FileManager.default.copyItem(atPath: "\(packageRoot)/Images/\(file)", toPath: "\(images)/\(file)") }
        var lock = try Lockfile.load(path: "\(images)/v2.7.lock.json")
        lock.wheels.removeAll { $0.name == "pip" }
        try writeFile("\(images)/v2.7.lock.json", [UInt8](try JSONEncoder().encode(lock)))
        let noPip = #expect(throws: ImageGenError.self) { try Self.generator(images: images).model("v2.7") }
        #expect("\(noPip!)".contains("this lock has none; add `packages: [pip]` to v2.7.yaml"), "\(noPip!)")

        let spec = try String(contentsOfFile: "\(images)/v2.7.yaml", encoding: .utf8)
        try writeFile("\(images)/v2.7.yaml", spec.replacingOccurrences(of: "LANG: C.UTF-8", with: "LANG: C"))
        let stale = try run(imagegenBinary, ["dockerfile", "v2.7", "--stdout", "--images", images])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("stale: \(images)/v2.7.yaml changed since it was locked; run `imagegen lock v2.7`"), "\(stale.stderr)")

        let unknown = try run(imagegenBinary, ["dockerfile", "nosuch", "--stdout", "--images", images])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("nosuch"))
    }

    @Test("a non-root user: group and user made with the spec's ids, the workdir theirs, USER set")
    func nonRootUser() throws {
        let scratch = try ScratchDirectory()
        let spec = try String(contentsOfFile: "\(packageRoot)/Images/v2.7.yaml", encoding: .utf8)
        try writeFile("\(scratch.path)/v2.7.yaml", spec.replacingOccurrences(of: "  # user: {name: dev, uid: 1000}", with: "  user: {name: dev, uid: 1001, gid: 1002}"))
        let image = try ImageResolver(catalog: try Catalog.builtin()).resolve(try SpecLoader(directory: scratch.path).load("v2.7"))
        let lock = try Lockfile.load(path: "\(packageRoot)/Images/v2.7.lock.json")
        let model = try DockerfileModel(
            image: image, lock: lock, lockPath: "Images/v2.7.lock.json", lockSHA256: Digest.of([UInt8]()), base: nil,
            sourceDateEpoch: nil, revision: nil, imagegenVersion: "test")
        let text = try DockerfileRenderer.render(model)
        #expect(text.contains("    groupadd --gid 1002 dev; \\\n    useradd --uid 1001 --gid 1002 --create-home --shell /bin/bash dev; \\\n"))
        #expect(text.contains("    mkdir -p /workspace; \\\n    chown 1001:1002 /workspace; \\\n"))
        #expect(text.contains("\nWORKDIR /workspace\nUSER dev\nENV \\\n"))
    }

    @Test("the bake file names every variant with its tags, in JSON that parses and in HCL")
    func bakeFile() throws {
        let generator = try Self.generator()
        let models = try ["v2.7", "v2.7-devel", "v2.8"].map(generator.model)
        let bake = BakeFile(models: models, repository: "ghcr.io/acme/pytorch", cacheRepository: nil) { "./\($0.image.spec.name)" }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bake.json.utf8)) as? [String: Any])
        let group = try #require((object["group"] as? [String: Any])?["default"] as? [String: Any])
        #expect(group["targets"] as? [String] == ["v2-7", "v2-7-devel", "v2-8"])
        let targets = try #require(object["target"] as? [String: [String: Any]])
        for model in models {
            let name = model.image.spec.name.replacingOccurrences(of: ".", with: "-")
            let target = try #require(targets[name], "\(name)")
            #expect(target["tags"] as? [String] == model.image.spec.config.tags.map { "${REPOSITORY}:\($0)" })
            #expect(target["context"] as? String == "./\(model.image.spec.name)")
            #expect(target["platforms"] as? [String] == ["linux/amd64"])
            #expect((target["args"] as? [String: String])?["BASE"] == model.base)
            #expect((target["labels"] as? [String: String])?["io.imagegen.image"] == model.image.spec.name)
            #expect(target["cache-to"] as? [String] == ["type=registry,ref=${CACHE_REPOSITORY}:\(name),mode=max"])
            #expect(bake.hcl.contains("target \"\(name)\" {\n  context = \"./\(model.image.spec.name)\"\n"))
        }
        let variables = try #require(object["variable"] as? [String: [String: String]])
        #expect(variables["REPOSITORY"]?["default"] == "ghcr.io/acme/pytorch")
        #expect(variables["CACHE_REPOSITORY"]?["default"] == "ghcr.io/acme/pytorch-cache")
        #expect(bake.hcl.contains("group \"default\" {\n  targets = [\"v2-7\", \"v2-7-devel\", \"v2-8\"]\n}\n"))
        // Braces balance: every block closes.
        #expect(bake.hcl.filter { $0 == "{" }.count == bake.hcl.filter { $0 == "}" }.count)
    }
}
