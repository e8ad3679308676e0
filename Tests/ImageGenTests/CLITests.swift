import Foundation
import OCI
import TestSupport
import Testing

/// Runs the built `imagegen` executable.
func imagegen(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    try run(imagegenBinary, arguments, environment: environment)
}

@Suite("The imagegen command line")
struct CLITests {
    @Test("--version and every subcommand's --help")
    func help() throws {
        #expect(try imagegen(["--version"]).stdout == "0.1.0\n")
        for command in [["--help"], ["pack", "--help"], ["verify", "--help"], ["lock", "--help"], ["graph", "--help"],
                        ["explain", "--help"], ["check-host", "--help"], ["run-check", "--help"]] {
            let result = try imagegen(command)
            #expect(result.status == 0)
            #expect(result.stdout.contains("USAGE: imagegen"))
            #expect(result.stdout.contains("Examples:") || command == ["--help"])
        }
    }

    @Test("pack then verify: exit 0, human lines on stderr, JSON on stdout")
    func packAndVerify() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("tree/hello"), "hi\n")
        let pack = try imagegen(
            ["pack", scratch("tree"), "--out", scratch("img"), "--format", "both", "--tag", "v1", "--json",
             "--env", "A=1", "--expose", "8888", "--workdir", "/w", "--label", "k=v"],
            environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        #expect(pack.status == 0, "\(pack.stderr)")
        #expect(pack.stderr.contains("layer 1/1"))
        struct Output: Decodable { var manifest: Descriptor; var archive: String? }
        let output = try JSONDecoder().decode(Output.self, from: Data(pack.stdout.utf8))
        #expect(output.archive == scratch("img") + ".tar")

        let verify = try imagegen(["verify", scratch("img.tar"), "--json"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("\"ok\" : true"))
        #expect(verify.stderr.contains(": ok (1 manifest, 1 layers"))

        let config = try LayoutDirectory(path: scratch("img")).blob(
            CanonicalJSON.decode(Manifest.self, from: LayoutDirectory(path: scratch("img")).blob(output.manifest.digest), name: "m").config.digest)
        let text = String(decoding: config, as: UTF8.self)
        #expect(text.contains(#""created":"2023-11-14T22:13:20Z""#))
        #expect(text.contains(#""ExposedPorts":{"8888/tcp":{}}"#))
    }

    /// The archive lists files but not their directories: those are made while unpacking it,
    /// and their mode must not come from the umask.
    @Test("umask and TZ do not change what pack writes, from a tree or an archive without directory entries (child processes: both are process-wide)",
          arguments: ["tree", "archive"])
    func packIndependentOfUmaskAndTimeZone(input: String) throws {
        let scratch = try ScratchDirectory()
        try makeFixtureTree(at: scratch("tree"))
        #expect(try run("sh", ["-c", "cd \"$1\" && find . -type f -o -type l | LC_ALL=C sort | tar --no-recursion -cf \"$2\" -T -", "sh",
                               scratch("tree"), scratch("files.tar")]).status == 0)
        let source = input == "tree" ? scratch("tree") : scratch("files.tar")
        var digests: [String] = []
        for (mask, zone) in [("022", "UTC"), ("000", "UTC"), ("077", "Pacific/Kiritimati")] {
            let out = scratch("out-\(mask)")
            let result = try run("sh", ["-c", "umask \(mask); exec \"$@\"", "sh", imagegenBinary, "pack", source, "--out", out, "--tag", "t"],
                                 environment: ["TZ": zone, "SOURCE_DATE_EPOCH": "1700000000"])
            #expect(result.status == 0, "\(result.stderr)")
            digests.append(try String(contentsOfFile: "\(out)/index.json", encoding: .utf8))
        }
        #expect(digests.count == 3 && Set(digests).count == 1, "\(digests)")
    }

    @Test("the test helper kills a child that outlives its timeout, so a hang fails one test instead of stalling the run")
    func helperTimeout() throws {
        let started = ContinuousClock.now
        let result = try run("sleep", ["60"], timeout: 1)
        #expect(result.status != 0)
        #expect(result.stderr.contains("[killed after 1 s: sleep 60]"))
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("verify exits 1 and prints one line per problem")
    func verifyFails() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("tree/hello"), "hi\n")
        #expect(try imagegen(["pack", scratch("tree"), "--out", scratch("img")]).status == 0)
        try Data("{".utf8).write(to: URL(fileURLWithPath: scratch("img/index.json")))
        let result = try imagegen(["verify", scratch("img")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("index.json: malformed JSON: not valid JSON\n"))
        #expect(result.stderr.contains("\(scratch("img")): 1 problem\n"))
    }

    @Test("bad flags exit 64 with a one-line reason naming the value", arguments: [
        (["pack", "x", "--out", "y", "--env", "NOEQUALS"], "--env 'NOEQUALS': expected NAME=value"),
        (["pack", "x", "--out", "y", "--workdir", "relative"], "--workdir 'relative': expected an absolute path"),
        (["pack", "x", "--out", "y", "--expose", "99999"], "--expose '99999': expected PORT"),
        (["pack", "x", "--out", "y", "--compression", "brotli"], "brotli"),
        (["pack", "x", "--out", "y", "--compression", "gzip", "--level", "12"], "level 12 is outside 1–9"),
        (["pack", "x", "--out", "y", "--platform", "linux"], "platform 'linux': expected os/arch[/variant]"),
        (["pack", "x", "--out", "y", "--threads", "0"], "--threads 0: expected 1 or more"),
    ])
    func badFlags(_ arguments: [String], _ message: String) throws {
        let result = try imagegen(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("a pack that fails leaves nothing at the output path", arguments: [
        (["missing-dir"], "missing-dir: no such file or directory"),
        (["TREE", "--tag", "bad tag!"], "--tag 'bad tag!': expected letters"),
    ])
    func failedPack(_ arguments: [String], _ message: String) throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("tree/hello"), "hi\n")
        let args = arguments.map { $0 == "TREE" ? scratch("tree") : $0 == "missing-dir" ? scratch("missing-dir") : $0 }
        let result = try imagegen(["pack"] + args + ["--out", scratch("img"), "--format", "both"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(left == ["tree"])
    }

    @Test("graph, explain and check-host on the shipped v2.7 spec")
    func specCommands() throws {
        let images = ["--images", packageRoot + "/Images"]
        let tree = try imagegen(["graph", "v2.7"] + images)
        #expect(tree.status == 0, "\(tree.stderr)")
        #expect(tree.stdout.contains("torch 2.7.1 + torchvision, torchaudio  [") && tree.stdout.contains("cuDNN 9.5.1.17"))
        let dot = try imagegen(["graph", "v2.7", "--format", "dot"] + images)
        #expect(dot.stdout.hasPrefix("digraph \"v2.7\" {"))
        let explain = try imagegen(["explain", "v2.7"] + images)
        #expect(explain.stdout.contains("because the torch 2.7.1 CUDA 12.6 wheel pins nvidia-cudnn-cu12==9.5.1.17"))
        #expect(explain.stdout.contains("\nNVIDIA_REQUIRE_CUDA=cuda>=12.6\n"), "\(explain.stdout)")
        #expect(explain.stdout.contains("driver: no forward compatibility\n    because no component ships NVIDIA's cuda-compat libraries"))

        let full = try imagegen(["check-host", "v2.7", "--driver", "570.124.06"] + images)
        #expect(full.status == 0 && full.stdout.hasPrefix("v2.7: full: "))
        let mvc = try imagegen(["check-host", "v2.7", "--driver", "535.104.05", "--json"] + images)
        #expect(mvc.status == 0 && mvc.stdout.contains("\"level\" : \"minor-version-compatibility\""))
        // Branch 470 runs CUDA 12.6 only with cuda-compat, which v2.7 does not carry.
        let forward = try imagegen(["check-host", "v2.7", "--driver", "470.57.02"] + images)
        #expect(forward.status == 1, "\(forward.stdout)")
        #expect(forward.stdout.hasPrefix("v2.7: forward-compatibility (does not run): driver 470.57.02 (branch 470)"), "\(forward.stdout)")
        #expect(forward.stdout.contains("the image carries no cuda-compat package"))
        let old = try imagegen(["check-host", "v2.7", "--driver", "510.47.03"] + images)
        #expect(old.status == 1 && old.stdout.hasPrefix("v2.7: cannot-run: driver 510.47.03 is older than 525.60.13"))
        let bad = try imagegen(["check-host", "v2.7", "--driver", "five-fifty"] + images)
        #expect(bad.status == 64 && bad.stderr.contains("invalid NVIDIA driver version 'five-fifty'"))
    }

    @Test("check-host on v2.15 (CUDA 13.2): full from 595.45.04, minor-version compatibility from 580.65.06, nothing older")
    func checkHostCUDA13() throws {
        let images = ["--images", packageRoot + "/Images"]
        let full = try imagegen(["check-host", "v2.15", "--driver", "595.71.05"] + images)
        #expect(full.status == 0 && full.stdout.hasPrefix("v2.15: full: driver 595.71.05 is at least 595.45.04"), "\(full.stdout)")
        let mvc = try imagegen(["check-host", "v2.15", "--driver", "580.65.06"] + images)
        #expect(mvc.status == 0 && mvc.stdout.hasPrefix("v2.15: minor-version-compatibility: "), "\(mvc.stdout)")
        #expect(mvc.stdout.contains("NVIDIA_DISABLE_REQUIRE=1"))
        let old = try imagegen(["check-host", "v2.15", "--driver", "575.51.03"] + images)
        #expect(old.status == 1, "\(old.stdout)")
        #expect(old.stdout.hasPrefix(
            "v2.15: cannot-run: driver 575.51.03 is older than 580.65.06, the oldest driver that runs CUDA 13.2, "
                + "and the catalog records no forward-compatible branch for it; upgrade the driver to 595.45.04 or newer"), "\(old.stdout)")
        let explain = try imagegen(["explain", "v2.15"] + images)
        #expect(explain.stdout.contains("\nNVIDIA_REQUIRE_CUDA=cuda>=13.2\n"), "\(explain.stdout)")
        #expect(explain.stdout.contains("nvidia-cudnn-cu13==9.26.0.51"), "\(explain.stdout)")
    }

    @Test("the committed locks match their specs; an edited spec makes its lock stale")
    func lockCheck() throws {
        let fresh = try imagegen(["lock", "--all", "--check", "--images", packageRoot + "/Images"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stderr.contains("v2.7.lock.json: up to date"))
        let scratch = try ScratchDirectory()
        for file in ["v2.7.yaml", "v2.7.lock.json"] {
            try FileManager.default.copyItem(atPath: "\(packageRoot)/Images/\(file)", toPath: scratch(file))
        }
        let edited = try String(contentsOfFile: scratch("v2.7.yaml"), encoding: .utf8).replacingOccurrences(of: "ports: [8888, 22]", with: "ports: [8888]")
        try writeFile(scratch("v2.7.yaml"), edited)
        let stale = try imagegen(["lock", "v2.7", "--check", "--images", scratch.path])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("v2.7.lock.json: stale, the spec changed since it was made; run `imagegen lock v2.7`"))
    }

    @Test("a spec error exits 1 with the file and line")
    func specError() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("x.yaml"), "name: x\nbase:\n  release: bookworm\ncuda:\n  version: twelve\n")
        let result = try imagegen(["explain", "x", "--images", scratch.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("x.yaml, line 5: cuda.version: invalid CUDA version 'twelve'"))
    }
}
