import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

extension Tag {
    /// Tests that run a real container build (a minute or more).
    @Tag static var slow: Self
}

/// The Dockerfile proven by a real build: `buildah bud` (vfs storage, chroot isolation, no
/// daemon) builds the Dockerfile that imagegen renders for a small spec, from a base image
/// that imagegen built (an `oci:` layout), with apt and pip served from fixtures on 127.0.0.1.
/// The image it makes must declare what imagegen's own OCI build of the same lock declares
/// (environment, labels, working directory, entrypoint, command, ports) and hold the same
/// package versions (dpkg's database, the venv's dist-info).
@Suite(
    "a rendered Dockerfile built by buildah equals imagegen's own build", .tags(.slow), .timeLimit(.minutes(10)),
    .enabled(if: getuid() == 0, "buildah's chroot isolation needs root (CI runs as root)"))
struct DockerfileBuildTests {
    /// What the base image (FROM) holds: apt and what dpkg's maintainer scripts run.
    static let basePackages = [
        "apt", "dash", "bash", "coreutils", "sed", "grep", "findutils", "diffutils", "tar", "gzip", "debianutils", "libc-bin",
        "mawk", "perl-base", "debconf",
    ]

    /// The spec built both ways: the host's Python with a venv, pip, the fixture app and the
    /// (fixture) CUDA runtime wheels; an env value with quotes and `$` to test escaping.
    static let spec = """
        name: dock
        description: built twice, by imagegen and by buildah from the rendered Dockerfile
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
        python:
          version: "3.11"
        cuda:
          version: "12.6"
          flavour: runtime
        packages: [pip, imagegen-fixture-app]
        config:
          workdir: /workspace
          env:
            FIXTURE: 'a "quoted" $value'
          ports: [8888]
          labels:
            org.opencontainers.image.title: dock fixture
          tags: [dock]

        """

    /// The base image's spec: the same release, apt and the tools it runs.
    static let baseSpec = """
        name: dock-base
        description: built twice, by imagegen and by buildah from the rendered Dockerfile
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
          packages: [\(basePackages.joined(separator: ", "))]
        config:
          tags: [dock-base]

        """

    @Test("buildah bud of the rendered Dockerfile: same env, labels, workdir, entrypoint, ports, debs and wheels")
    func buildahBuild() async throws {
        // buildah names containers after the base's path: lowercase letters only, one slash each.
        let root = "/tmp/imagegen-dockerfile-build-\(UUID().uuidString.lowercased())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repository = try HostDebianRepository(
            at: "\(root)/repo", hostPackages: ["base-files", "base-passwd", "ca-certificates", "python3.11", "python3.11-venv"] + Self.basePackages,
            madeUp: [])
        let index = try BuildTests.makeIndex(at: "\(root)/index", appVersions: ["1.0"])
        let pip = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "/usr/share/python-wheels").first { $0.hasPrefix("pip-") },
            "Debian's python3-pip-whl (scripts/install-deps.sh installs it)")
        try index.addWheelFile("/usr/share/python-wheels/\(pip)", project: "pip")
        let servers = try FixtureServers(repository: repository.root, index: index.root)

        // Lock both specs against the fixtures; build both with imagegen.
        let images = "\(root)/Images"
        try writeFile("\(images)/dock.yaml", Self.spec)
        try writeFile("\(images)/dock-base.yaml", Self.baseSpec)
        let locker = try servers.locker(images: images, cacheDirectory: "\(root)/cache")
        let (lock, _) = try await locker.lock("dock")
        _ = try await locker.lock("dock-base")
        let options = try BuildTests.options(images: images, cache: "\(root)/cache", out: "\(root)/out", servers: servers)
        _ = try await Builder(options: options).build("dock-base")
        _ = try await Builder(options: options).build("dock")

        // The Dockerfile and its context, beside the layout; a rebuild keeps them.
        let generator = DockerfileGenerator(options: options, imagegenVersion: "test")
        let model = try generator.model("dock")
        try await generator.write(model, to: "\(root)/out/dock")
        _ = try await Builder(options: options).build("dock")
        for name in ["Dockerfile", ".dockerignore", "imagegen/requirements/packages.txt", "imagegen/\(pip)", "index.json"] {
            #expect(FileManager.default.fileExists(atPath: "\(root)/out/dock/\(name)"), "\(name) after a rebuild")
        }
        let dockerfile = try String(contentsOfFile: "\(root)/out/dock/Dockerfile", encoding: .utf8)
        #expect(DockerfileLint.check(dockerfile) { path in
            try? String(contentsOfFile: "\(root)/out/dock/\(path.replacingOccurrences(of: "/run/imagegen/", with: "imagegen/"))", encoding: .utf8)
        }.isEmpty)

        // buildah, with the context that holds the layout too (.dockerignore keeps it out).
        let buildah = ["--storage-driver", "vfs", "--root", "\(root)/storage", "--runroot", "\(root)/run"]
        let bud = try run("buildah", buildah + [
            "bud", "--isolation", "chroot", "--network", "host", "--identity-label=false",
            "--build-arg", "BASE=oci:\(root)/out/dock-base:dock-base",
            "--build-arg", "APT_SOURCES=\(servers.aptSource)",
            "--build-arg", "PIP_INDEX_URL=\(servers.indexURL)",
            "-t", "localhost/dock:buildah", "\(root)/out/dock",
        ])
        try #require(bud.status == 0, "buildah bud failed:\n\(bud.stdout.suffix(3000))\n\(bud.stderr.suffix(3000))")
        #expect(!bud.stdout.contains("blobs/sha256"), "the layout's blobs were sent as context")

        // What the two images declare.
        let inspected = try run("buildah", buildah + ["inspect", "--type", "image", "localhost/dock:buildah"])
        try #require(inspected.status == 0, "\(inspected.stderr)")
        let theirs = try #require(
            ((try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])?["OCIv1"] as? [String: Any])?["config"]
                as? [String: Any])
        let ours = try Self.configuration(layout: "\(root)/out/dock")
        #expect(Set(theirs["Env"] as? [String] ?? []) == Set(ours.env ?? []))
        #expect((theirs["Env"] as? [String] ?? []).contains("FIXTURE=a \"quoted\" $value"))
        #expect(theirs["Labels"] as? [String: String] == ours.labels)
        #expect(theirs["WorkingDir"] as? String == ours.workingDir)
        #expect(theirs["Entrypoint"] as? [String] == ours.entrypoint)
        #expect((theirs["Cmd"] as? [String]) == ours.cmd)
        #expect(Set((theirs["ExposedPorts"] as? [String: Any] ?? [:]).keys) == Set((ours.exposedPorts ?? [:]).keys))

        // What the two images hold: the locked debs at their versions, the same wheels.
        let mount = try Self.mount(buildah: buildah, image: "localhost/dock:buildah")
        let theirDebs = try Self.installedDebs(status: "\(mount)/var/lib/dpkg/status")
        let ourRoot = try BuildTests.unpack("\(root)/out/dock", into: "\(root)/bundle", tag: "dock")
        let ourDebs = try Self.installedDebs(status: "\(ourRoot)/var/lib/dpkg/status")
        for deb in lock.debs {
            #expect(theirDebs[deb.name] == deb.version, "buildah's image: \(deb.name)")
            #expect(ourDebs[deb.name] == deb.version, "imagegen's image: \(deb.name)")
        }
        let sitePackages = "opt/venv/lib/python3.11/site-packages"
        let theirWheels = try Self.distInfos("\(mount)/\(sitePackages)")
        #expect(theirWheels == (try Self.distInfos("\(ourRoot)/\(sitePackages)")))
        #expect(theirWheels.count == lock.wheels.count)

        // `imagegen bake` over both specs, from the warm cache: contexts and a JSON bake file.
        let bake = try run(imagegenBinary, [
            "bake", "dock", "dock-base", "--json", "--out", "\(root)/bake", "--images", images, "--cache", "\(root)/cache", "--offline",
            "--repository", "registry.invalid/dock",
        ])
        #expect(bake.status == 0, "\(bake.stderr)")
        let bakeFile = try JSONSerialization.jsonObject(with: Data(try FileReader.readAll(path: "\(root)/bake/docker-bake.json", limit: 1 << 20)))
        let targets = try #require((bakeFile as? [String: Any])?["target"] as? [String: [String: Any]])
        #expect(Set(targets.keys) == ["dock", "dock-base"])
        #expect(targets["dock"]?["tags"] as? [String] == ["${REPOSITORY}:dock"])
        #expect(FileManager.default.fileExists(atPath: "\(root)/bake/dock/imagegen/\(pip)"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/bake/dock-base/Dockerfile"))
        let missing = try run(imagegenBinary, ["bake", "dock", "nosuch", "--out", "\(root)/bake2", "--images", images, "--offline"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nosuch"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/bake2/docker-bake.hcl"))

        // The console script runs in buildah's image.
        let script = try run("buildah", buildah + ["from", "--name", "dock-run", "localhost/dock:buildah"])
        try #require(script.status == 0, "\(script.stderr)")
        let output = try run("buildah", buildah + ["run", "--isolation", "chroot", "dock-run", "imagegen-fixture-app"])
        #expect(output.stdout.contains(BuildTests.greeting("1.0")), "\(output.stderr)")
    }

    /// Our image's container configuration, from its layout.
    static func configuration(layout: String) throws -> ContainerConfig {
        let index = try JSONDecoder().decode(Index.self, from: Data(try FileReader.readAll(path: "\(layout)/index.json", limit: 1 << 20)))
        let manifestDigest = try #require(index.manifests.first?.digest)
        func blob(_ digest: Digest) throws -> Data {
            Data(try FileReader.readAll(path: "\(layout)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)", limit: 1 << 24))
        }
        let manifest = try JSONDecoder().decode(Manifest.self, from: try blob(manifestDigest))
        let configuration = try JSONDecoder().decode(ImageConfiguration.self, from: try blob(manifest.config.digest))
        return try #require(configuration.config)
    }

    /// `buildah from` + `buildah mount`: the path of a working container's root.
    static func mount(buildah: [String], image: String) throws -> String {
        let from = try run("buildah", buildah + ["from", "--name", "dock-inspect", image])
        guard from.status == 0 else { throw FixtureError(message: "buildah from: \(from.stderr)") }
        let mounted = try run("buildah", buildah + ["mount", "dock-inspect"])
        guard mounted.status == 0 else { throw FixtureError(message: "buildah mount: \(mounted.stderr)") }
        return mounted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Installed packages (`Status: install ok installed`) of a dpkg status file: name → version.
    static func installedDebs(status path: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for stanza in try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix(" ") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
            if let name = fields["Package"], let version = fields["Version"], fields["Status"] == "install ok installed" {
                result[name] = version
            }
        }
        return result
    }

    /// The `*.dist-info` directories of a site-packages: the installed distributions and versions.
    static func distInfos(_ sitePackages: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: sitePackages).filter { $0.hasSuffix(".dist-info") })
    }
}
