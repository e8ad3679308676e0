import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import TestSupport
import Testing

/// Starts one engine around a whole suite (``current`` inside it) and stops it, removing its
/// directory, when the suite ends, whether its tests passed, failed or threw.
struct SuiteEngine: SuiteTrait, TestScoping {
    /// The engine of the suite that is running.
    @TaskLocal static var current: DockerEngine?

    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let engine = try DockerEngine()
        defer { engine.stop() }
        try await Self.$current.withValue(engine) { try await function() }
    }
}

/// The images as a user runs them: built by imagegen from the host's own Debian packages
/// (repacked, ``HostDebianRepository``) and fixture wheels, loaded into a real Docker engine
/// (Debian's `dockerd`, one for the whole suite: ``DockerEngine``) and run there — SSH login
/// with a key, `su`, the alternatives, `apt-get`, `pip`, a non-root user, every path of the
/// entrypoint. Nothing is fetched: apt and the wheels are served on 127.0.0.1 and the
/// containers use the host network (the engine has no bridge).
///
/// Skipped, saying why, only where no engine can start (not root, root in an unprivileged
/// container, or `docker.io` missing: ``DockerEngine/unavailableReason``); an engine that is
/// installed but fails to start fails the suite with its log.
@Suite(
    "images run in a real Docker engine (dockerd, vfs)", .tags(.slow), .timeLimit(.minutes(10)),
    .disabled(if: DockerEngine.unavailableReason != nil, Comment(rawValue: DockerEngine.unavailableReason ?? "")),
    SuiteEngine())
struct EngineTests {
    // MARK: The images

    /// Host packages repacked for the images, with their dependencies: the host's Essential
    /// and required set (less what no container uses), and what the specs ask for.
    static let hostPackages = [
        "base-files", "base-passwd", "bash", "bsdutils", "coreutils", "dash", "debconf", "debianutils", "diffutils", "dpkg",
        "findutils", "grep", "gzip", "hostname", "init-system-helpers", "libc-bin", "libpam-modules", "libpam-modules-bin",
        "libpam-runtime", "login", "mawk", "ncurses-base", "ncurses-bin", "passwd", "perl-base", "sed", "sensible-utils",
        "sysvinit-utils", "tar", "util-linux",
        "apt", "less", "ca-certificates", "python3.11", "python3.11-venv", "openssh-server",
    ]

    /// Made-up packages the repository offers but no spec asks for: what `apt-get install`
    /// installs in a container. The first depends on the second and on an installed package.
    static let extraPackages: [DebianRepositoryFixture.Package] = [
        .init(name: "imagegen-engine-extra", version: "1.0", control: ["Depends: imagegen-engine-extra-lib (>= 1.0), mawk"]),
        .init(name: "imagegen-engine-extra-lib", version: "1.0"),
    ]

    /// What the stand-in `jupyter` console script prints before its arguments.
    static let jupyterGreeting = "jupyter stand-in"

    /// Root, SSH, Jupyter (a stand-in wheel), pip, the fixture app, the CUDA runtime wheels.
    static let spec = """
        name: engine
        description: the host's own Debian packages and Python, run in a real Docker engine
        base:
          distribution: debian
          release: bookworm
          architecture: amd64
          packages: [apt, less]
        python:
          version: "3.11"
        cuda:
          version: "12.6"
          flavour: runtime
        packages: [pip, imagegen-fixture-app]
        tools:
          ssh: true
          jupyter: true
        config:
          workdir: /workspace
          env:
            ENGINE_FIXTURE: 'a "quoted" $value'
          ports: [8888, 22]
          labels:
            org.opencontainers.image.title: engine fixture
          tags: [engine]

        """

    /// The same with a non-root user and a command.
    static let userSpec = """
        name: engine-user
        extends: engine
        config:
          user: {name: dev, uid: 1000}
          cmd: [imagegen-fixture-app]
          tags: [engine-user]

        """

    /// The fixtures and both images, made once per run.
    struct Images: Sendable {
        let scratch: String
        let repository: String
        let index: String
        /// `files/` holds `imagegen-engine-local` 1.0, a wheel no index offers.
        let localWheels: String
        let out: String

        static let shared = Task { () async throws -> Images in
            let scratch = try runScratchDirectory("imagegen-engine-images")
            let repository = try HostDebianRepository(at: "\(scratch)/repo", hostPackages: hostPackages, madeUp: extraPackages)
            let index = try BuildTests.makeIndex(at: "\(scratch)/index", appVersions: ["1.0"])
            let wheels = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/share/python-wheels")) ?? []
            guard let pip = wheels.first(where: { $0.hasPrefix("pip-") }) else {
                throw FixtureError(message: "no pip wheel in /usr/share/python-wheels: scripts/install-deps.sh installs python3-pip-whl")
            }
            try index.addWheelFile("/usr/share/python-wheels/\(pip)", project: "pip")
            // Jupyter Lab is too big to make here: a wheel named jupyterlab whose `jupyter`
            // prints its arguments shows what the entrypoint runs.
            let jupyterWheel = WheelIndexFixture.Wheel(name: "jupyterlab", version: "4.0.0")
            let jupyter = try WheelIndexFixture(at: "\(scratch)/jupyter", wheels: [jupyterWheel])
            try jupyter.addConsoleScript("jupyter", printing: jupyterGreeting, to: jupyterWheel, withArguments: true)
            try index.addWheelFile("\(jupyter.root)/files/\(jupyterWheel.fileName)", project: "jupyterlab")
            _ = try WheelIndexFixture(
                at: "\(scratch)/local", wheels: [.init(name: "imagegen-engine-local", version: "1.0", requiresDist: ["Imagegen.Fixture_Lib>=1.0"])])

            let servers = try FixtureServers(repository: repository.root, index: index.root)
            let images = "\(scratch)/Images"
            try writeFile("\(images)/engine.yaml", spec)
            try writeFile("\(images)/engine-user.yaml", userSpec)
            let locker = try servers.locker(images: images, cacheDirectory: "\(scratch)/cache")
            _ = try await locker.lock("engine")
            _ = try await locker.lock("engine-user")
            let options = try BuildTests.options(images: images, cache: "\(scratch)/cache", out: "\(scratch)/out", servers: servers)
            _ = try await Builder(options: options).build("engine")
            _ = try await Builder(options: options).build("engine-user")
            return Images(
                scratch: scratch, repository: repository.root, index: index.root, localWheels: "\(scratch)/local/files", out: "\(scratch)/out")
        }

        /// Serves the repository and the index on 127.0.0.1 (stopped when dropped).
        func serve() throws -> FixtureServers { try FixtureServers(repository: repository, index: index) }
    }

    /// The engine, with both images loaded (once per engine); the reference `docker load`
    /// printed for `name`.
    static func loaded(_ name: String) async throws -> (DockerEngine, String) {
        let engine = try #require(SuiteEngine.current, "the suite's engine (SuiteEngine) is not running")
        let images = try await Images.shared.value
        let references = try await engine.load("\(images.out)/\(name).tar")
        let reference = try #require(references.first { $0.hasSuffix(":\(name)") }, "docker load printed \(references)")
        return (engine, reference)
    }

    /// `docker run --rm OPTIONS IMAGE ARGUMENTS…` (no network unless `options` gives one).
    static func run(
        _ engine: DockerEngine, _ image: String, _ arguments: [String], options: [String] = ["--network", "none"], timeout: Int = 300
    ) throws -> ProcessResult {
        try engine.docker(["run", "--rm"] + options + [image] + arguments, timeout: timeout)
    }

    // MARK: docker load and inspect

    /// `docker inspect`'s view of an image.
    struct Inspected: Decodable {
        struct Config: Decodable {
            var Env: [String]?
            var Labels: [String: String]?
            var Cmd: [String]?
            var Entrypoint: [String]?
            var WorkingDir: String?
            var ExposedPorts: [String: Empty]?
            var User: String?
        }
        struct Empty: Decodable {}
        var Created: String
        var Config: Config
    }

    /// The image configuration imagegen wrote (`skopeo inspect --config`): the same fields
    /// under `config`, as the OCI image spec names them.
    struct ImageConfig: Decodable {
        var created: String?
        var config: Inspected.Config
    }

    @Test(
        "docker load, then docker inspect: Env, Labels, Cmd, Entrypoint, WorkingDir, ExposedPorts, User and Created are the spec's and the config's",
        arguments: ["engine", "engine-user"])
    func inspect(name: String) async throws {
        let (engine, reference) = try await Self.loaded(name)
        let images = try await Images.shared.value
        let inspected = try engine.docker(["image", "inspect", reference])
        try #require(inspected.status == 0, "\(inspected.stderr)")
        let docker = try #require(try JSONDecoder().decode([Inspected].self, from: Data(inspected.stdout.utf8)).first)
        let skopeo = try TestSupport.run("skopeo", ["inspect", "--config", "oci:\(images.out)/\(name):\(name)"])
        try #require(skopeo.status == 0, "\(skopeo.stderr)")
        let written = try JSONDecoder().decode(ImageConfig.self, from: Data(skopeo.stdout.utf8))

        // What imagegen wrote is what the engine reports …
        #expect(docker.Config.Env == written.config.Env)
        #expect(docker.Config.Labels == written.config.Labels)
        #expect(docker.Config.Cmd == written.config.Cmd)
        #expect(docker.Config.Entrypoint == written.config.Entrypoint)
        #expect(docker.Config.WorkingDir == written.config.WorkingDir)
        #expect(docker.Config.ExposedPorts.map { Set($0.keys) } == written.config.ExposedPorts.map { Set($0.keys) })
        #expect((docker.Config.User ?? "") == (written.config.User ?? ""))
        let dates = ISO8601DateFormatter()
        #expect(dates.date(from: docker.Created) != nil && dates.date(from: docker.Created) == written.created.flatMap { dates.date(from: $0) },
                "docker: \(docker.Created), config: \(written.created ?? "none")")

        // … and it is what the spec says.
        let env = docker.Config.Env ?? []
        #expect(env.contains(#"ENGINE_FIXTURE=a "quoted" $value"#), "\(env)")
        #expect(env.contains("VIRTUAL_ENV=/opt/venv"), "\(env)")
        #expect(env.first { $0.hasPrefix("PATH=") }?.hasPrefix("PATH=/opt/venv/bin:") == true, "\(env)")
        #expect(env.contains("CUDA_VERSION=12.6"), "\(env)")
        #expect(docker.Config.Labels?["org.opencontainers.image.title"] == "engine fixture")
        #expect(docker.Config.Labels?["io.imagegen.image"] == name)
        #expect(docker.Config.Cmd == (name == "engine" ? nil : ["imagegen-fixture-app"]))
        #expect(docker.Config.Entrypoint == ["/usr/local/bin/imagegen-entrypoint"])
        #expect(docker.Config.WorkingDir == "/workspace")
        #expect(docker.Config.ExposedPorts.map { Set($0.keys) } == ["8888/tcp", "22/tcp"])
        #expect((docker.Config.User ?? "") == (name == "engine" ? "" : "dev"))

        // `docker images` shows the config's date.
        let listed = try engine.docker(["images", "--format", "{{.CreatedAt}}", reference])
        let created = try #require(written.created.flatMap { dates.date(from: $0) })
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        #expect(listed.stdout.hasPrefix(formatter.string(from: created)), "docker images: \(listed.stdout)\(listed.stderr)")
    }

    // MARK: Logging in

    @Test("SSH login with a key: the entrypoint's sshd on a free loopback port, `ssh … python -c …` prints the venv's answer")
    func sshLogin() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let scratch = try ScratchDirectory("imagegen-engine-ssh")
        let keygen = try TestSupport.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", scratch("key")])
        try #require(keygen.status == 0, "\(keygen.stderr)")
        try writeFile(scratch("authorized_keys"), try String(contentsOfFile: scratch("key.pub"), encoding: .utf8), mode: 0o600)
        // As a user on a host network would: another port through sshd_config.d (Debian's
        // sshd_config includes it), keys mounted read-only.
        let port = try freeLoopbackPort()
        try writeFile(scratch("port.conf"), "Port \(port)\nListenAddress 127.0.0.1\n")
        let started = try engine.docker([
            "run", "-d", "--network", "host",
            "-v", "\(scratch("authorized_keys")):/root/.ssh/authorized_keys:ro",
            "-v", "\(scratch("port.conf")):/etc/ssh/sshd_config.d/imagegen-test.conf:ro",
            reference, "sshd",
        ])
        try #require(started.status == 0, "\(started.stderr)")
        let container = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? engine.docker(["rm", "-f", container]) }
        func logs() -> String {
            let logs = try? engine.docker(["logs", container])
            return "container log:\n\(logs?.stdout ?? "")\(logs?.stderr ?? "")"
        }
        try #require(waitForLoopbackPort(port, timeout: 60), "sshd never listened on \(port); \(logs())")

        func ssh(_ command: String) throws -> ProcessResult {
            try TestSupport.run("/usr/bin/ssh", [
                "-F", "/dev/null", "-i", scratch("key"), "-p", "\(port)",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
                "root@127.0.0.1", command,
            ], timeout: 120)
        }
        // The login itself (PAM's common-* files), then Python as a user types it: the
        // session's PATH must reach the venv as the container's does.
        let login = try ssh("id -un")
        try #require(login.status == 0 && login.stdout == "root\n", "ssh … id -un: \(login.stdout)\(login.stderr)\n\(logs())")
        let python = try ssh("python -c 'import sys, imagegen_fixture_lib as lib; print(sys.prefix, lib.VERSION)'")
        #expect(python.status == 0, "ssh … python: \(python.stderr)\n\(logs())")
        #expect(python.stdout == "/opt/venv 2.0\n", "\(python.stdout)\(python.stderr)")
    }

    /// One container (each costs a copy of the whole root with vfs), one marked section per
    /// command, each with its exit status.
    @Test("su -c id nobody -s /bin/sh works; awk, which and pager exist and run (update-alternatives' links)")
    func suAndAlternatives() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let commands = [
            "su": "su -c id nobody -s /bin/sh",
            "awk": "awk 'BEGIN { print 6 * 7 }'",
            "which": "which python",
            "pager": "echo paged | pager",
        ]
        let script = commands.sorted { $0.key < $1.key }.map { name, command in
            "echo '== \(name)'; \(command) 2>&1; echo \"== \(name) status $?\""
        }.joined(separator: "\n")
        let result = try Self.run(engine, reference, ["bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        // What `name` printed and its exit status: `== NAME\nOUTPUT== NAME status N\n`.
        var outputs: [String: (output: String, status: String)] = [:]
        for name in commands.keys {
            guard let start = result.stdout.range(of: "== \(name)\n"),
                let end = result.stdout.range(of: "== \(name) status ", range: start.upperBound..<result.stdout.endIndex)
            else { continue }
            outputs[name] = (String(result.stdout[start.upperBound..<end.lowerBound]), String(result.stdout[end.upperBound...].prefix { $0 != "\n" }))
        }

        let su = outputs["su"]
        #expect(su?.status == "0" && su?.output.hasPrefix("uid=65534(nobody) gid=65534(nogroup)") == true, "su: \(su?.output ?? result.stdout)")
        #expect(outputs["awk"]?.status == "0" && outputs["awk"]?.output == "42\n", "awk: \(outputs["awk"]?.output ?? result.stdout)")
        #expect(
            outputs["which"]?.status == "0" && outputs["which"]?.output == "/opt/venv/bin/python\n",
            "which: \(outputs["which"]?.output ?? result.stdout)")
        #expect(outputs["pager"]?.status == "0" && outputs["pager"]?.output == "paged\n", "pager: \(outputs["pager"]?.output ?? result.stdout)")
    }

    // MARK: Package managers

    @Test("apt-get install from a repository on 127.0.0.1; apt-get autoremove --dry-run removes nothing, before and after")
    func aptGet() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let images = try await Images.shared.value
        let servers = try images.serve()
        // Only the test's repository: whatever sources the image may list are not reachable here.
        let script = """
            set -e
            mkdir -p /tmp/no-parts
            echo '\(servers.aptSource)' > /etc/apt/imagegen-test.list
            apt() { apt-get -o Dir::Etc::SourceList=/etc/apt/imagegen-test.list -o Dir::Etc::SourceParts=/tmp/no-parts "$@"; }
            apt update -q
            echo '== autoremove (before)'
            apt autoremove --dry-run
            echo '== install'
            DEBIAN_FRONTEND=noninteractive apt install -y -q imagegen-engine-extra
            dpkg-query -W -f '${db:Status-Abbrev}${Package} ${Version}\\n' imagegen-engine-extra imagegen-engine-extra-lib
            echo '== autoremove (after)'
            apt autoremove --dry-run
            """
        let result = try Self.run(engine, reference, ["bash", "-c", script], options: ["--network", "host"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let sections = result.stdout.components(separatedBy: "== ")
        try #require(sections.count == 4, "\(result.stdout)\(result.stderr)")
        for section in [sections[1], sections[3]] {
            #expect(section.contains("0 upgraded, 0 newly installed, 0 to remove"), "\(section)")
            #expect(!section.contains("Remv "), "\(section)")
        }
        #expect(sections[2].contains("ii imagegen-engine-extra 1.0\nii imagegen-engine-extra-lib 1.0\n"), "\(sections[2])")
        #expect(!result.stderr.contains("No sandbox user '_apt'"), "apt's postinst adds the _apt user: \(result.stderr)")
    }

    @Test("pip install of a local wheel, then python -m pip check")
    func pipInstall() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let images = try await Images.shared.value
        let script = """
            set -e
            pip install --no-index --disable-pip-version-check -q /wheels/imagegen_engine_local-1.0-py3-none-any.whl
            python -c 'import imagegen_engine_local as m; print("local", m.VERSION)'
            python -m pip check --disable-pip-version-check
            """
        let result = try Self.run(engine, reference, ["bash", "-c", script], options: ["--network", "none", "-v", "\(images.localWheels):/wheels:ro"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "local 1.0\nNo broken requirements found.\n", "\(result.stdout)\(result.stderr)")
    }

    // MARK: Bytecode

    @Test("the first Python run in a fresh container writes no .pyc: the image ships the bytecode (stdlib, venv, pip)")
    func bytecode() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let name = "imagegen-bytecode-\(UUID().uuidString.lowercased())"
        defer { _ = try? engine.docker(["rm", "-f", name]) }
        let script = "python -c 'import imagegen_fixture_lib, json, email.mime.text, http.client, ssl, asyncio' && python -m pip --version >/dev/null"
        let result = try engine.docker(["run", "--name", name, "--network", "none", reference, "bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let diff = try engine.docker(["diff", name])
        try #require(diff.status == 0, "\(diff.stderr)")
        let written = diff.stdout.split(separator: "\n").filter { $0.hasSuffix(".pyc") }
        #expect(written.isEmpty, "\(written.count) .pyc files written by the first run: \(written.prefix(20).joined(separator: ", "))")
    }

    // MARK: A non-root user

    @Test("a spec with user: runs as that user, who writes /workspace and runs Python; the spec's cmd runs by default")
    func nonRootUser() async throws {
        let (engine, reference) = try await Self.loaded("engine-user")
        let script = #"id -un; id -u; pwd; echo written > /workspace/probe && cat /workspace/probe; python -c 'import sys; print(sys.prefix)'"#
        let result = try Self.run(engine, reference, ["bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "dev\n1000\n/workspace\nwritten\n/opt/venv\n", "\(result.stdout)\(result.stderr)")

        let command = try Self.run(engine, reference, [])
        #expect(command.status == 0, "\(command.stderr)")
        #expect(command.stdout == BuildTests.greeting("1.0") + "\n", "\(command.stdout)\(command.stderr)")
    }

    // MARK: The entrypoint

    @Test("the entrypoint: a command runs as given, no command is a shell, jupyter starts Jupyter Lab on 8888")
    func entrypoint() async throws {
        let (engine, reference) = try await Self.loaded("engine")
        let command = try Self.run(engine, reference, ["imagegen-fixture-app"])
        #expect(command.status == 0 && command.stdout == BuildTests.greeting("1.0") + "\n", "\(command.stdout)\(command.stderr)")

        // No command (the spec has none): bash, reading the script on its standard input.
        let shell = try TestSupport.run("sh", [
            "-c", #"printf 'echo "shell $0 $BASH_VERSION"\n' | "$@""#, "sh",
            DockerEngine.clientPath, "-H", "unix://\(engine.socket)", "run", "--rm", "-i", "--network", "none", reference,
        ], environment: ["DOCKER_CONFIG": "\(engine.root)/client"])
        #expect(shell.status == 0, "\(shell.stderr)")
        #expect(shell.stdout.hasPrefix("shell /bin/bash 5."), "\(shell.stdout)\(shell.stderr)")

        let jupyter = try Self.run(engine, reference, ["jupyter"])
        #expect(jupyter.status == 0, "\(jupyter.stderr)")
        #expect(jupyter.stdout == "\(Self.jupyterGreeting) lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root\n", "\(jupyter.stdout)\(jupyter.stderr)")
        // With arguments, jupyter is a command like any other.
        let version = try Self.run(engine, reference, ["jupyter", "--version"])
        #expect(version.stdout == "\(Self.jupyterGreeting) --version\n", "\(version.stdout)\(version.stderr)")
    }
}
