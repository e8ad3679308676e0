import Foundation
import ImageModel
import OCI
@testable import Rootfs
import Testing
import TestSupport

/// The host's `python3`, whose version stands for the image's `python3.X` in these tests, so
/// that the installed tree can be run by a real interpreter.
private let hostPython: PythonVersion? = {
    guard let result = try? run("python3", ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]), result.status == 0
    else { return nil }
    return try? PythonVersion(parsing: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
}()

/// `python3.X` for the host's interpreter.
private func pythonName(_ python: PythonVersion) -> String { "python\(python.major).\(python.minor)" }

/// The mode bits of a path (not following a final symlink).
private func mode(_ path: String) throws -> Int {
    var st = stat()
    guard lstat(path, &st) == 0 else { throw FixtureError(message: "\(path): no such file") }
    return Int(st.st_mode & 0o7777)
}

private func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

/// Every path under `root` (files, directories, links), relative, sorted.
private func listing(_ root: String) -> [String] {
    (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
}

/// The regular files under `root`, relative, in byte order.
private func regularFiles(_ root: String) -> [String] {
    listing(root).filter { path in
        var st = stat()
        return lstat("\(root)/\(path)", &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
}

/// RECORD's hash of a file, computed here independently of the installer: Foundation's base64.
private func recordHash(of path: String) throws -> String {
    let digest = Digest.of(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    var bytes: [UInt8] = []
    var hex = digest.encoded.makeIterator()
    while let high = hex.next(), let low = hex.next() { bytes.append(UInt8(String([high, low]), radix: 16)!) }
    return "sha256=" + Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// A pure wheel with a package, a member with a comma in its name, an executable member,
/// an empty directory, every `.data` scheme, a `#!python` script, and entry points.
private let fixturePackage = WheelFixture(
    name: "Fixture.Pkg", version: "1.2.0",
    members: [
        .init("fixturepkg/__init__.py", "from .core import greet\nVERSION = '1.2.0'\n"),
        .init("fixturepkg/core.py", """
            def greet(who="world"):
                return f"hello {who}"

            def main():
                print(greet("console"))
                return 0

            class Tool:
                @staticmethod
                def run():
                    print("tool run")
                    return 3

            """),
        .init("fixturepkg/bin/helper.sh", "#!/bin/sh\necho helper\n", mode: 0o755),
        .init("fixturepkg/odd,name.txt", "a comma in a name\n"),
        .init("fixturepkg/empty/", "", mode: 0o755),
        .init("fixture_pkg-1.2.0.data/purelib/fixture_extra.py", "EXTRA = True\n"),
        .init("fixture_pkg-1.2.0.data/scripts/fixture-script", "#!python\nimport fixturepkg\nprint('script', fixturepkg.VERSION)\n"),
        .init("fixture_pkg-1.2.0.data/scripts/plain.sh", "#!/bin/sh\necho plain\n"),
        .init("fixture_pkg-1.2.0.data/headers/fixture.h", "#define FIXTURE 1\n"),
        .init("fixture_pkg-1.2.0.data/data/share/x.txt", "data file\n"),
    ],
    entryPoints: """
        [console_scripts]
        fixture-cli = fixturepkg.core:main
        fixture-tool = fixturepkg.core:Tool.run [extra]

        [gui_scripts]
        fixture-gui = fixturepkg.core:main

        [fixture.plugins]
        ignored = fixturepkg.core:main
        """)

/// NVIDIA-style wheels: platform wheels (Root-Is-Purelib false) sharing the `nvidia`
/// namespace package, with shared libraries under `nvidia/*/lib`.
private let cudaRuntime = WheelFixture(
    name: "nvidia-cuda-runtime-cu12", version: "12.8.90",
    members: [
        .init("nvidia/__init__.py", ""),
        .init("nvidia/cuda_runtime/__init__.py", ""),
        .init("nvidia/cuda_runtime/include/cuda_runtime_api.h", "/* fake */\n"),
        .init("nvidia/cuda_runtime/lib/libcudart.so.12", "\u{7F}ELF fake libcudart\n", mode: 0o755),
    ],
    rootIsPurelib: false, tag: "py3-none-manylinux2014_x86_64")
private let cublas = WheelFixture(
    name: "nvidia-cublas-cu12", version: "12.8.4.1",
    members: [
        .init("nvidia/__init__.py", ""),
        .init("nvidia/cublas/lib/libcublas.so.12", "\u{7F}ELF fake libcublas\n", mode: 0o755),
    ],
    rootIsPurelib: false, tag: "py3-none-manylinux2014_x86_64")

/// Real wheels on this host: Debian's `python3-pip-whl`/`python3-setuptools-whl`, else the
/// ones bundled with the host interpreter's `ensurepip`.
private let hostWheels: [String] = {
    let fm = FileManager.default
    var directories = ["/usr/share/python-wheels"]
    if let result = try? run("python3", ["-c", "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))"]), result.status == 0 {
        directories.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/_bundled")
    }
    for directory in directories {
        let wheels = ((try? fm.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { ($0.hasPrefix("pip-") || $0.hasPrefix("setuptools-")) && $0.hasSuffix(".whl") }.sorted()
        if wheels.count == 2 { return wheels.map { "\(directory)/\($0)" } }
    }
    return []
}()

/// Whether the host's `python3` has pip, to compare installs with.
private let hostHasPip = (try? run("python3", ["-m", "pip", "--version"]))?.status == 0

@Suite("Installing wheels into the image's venv", .enabled(if: hostPython != nil, "needs python3"))
struct WheelTests {
    let python = hostPython!
    var layout: VenvLayout { VenvLayout(python: python) }

    @Test("the venv skeleton is what `python3 -m venv` makes: pyvenv.cfg, interpreter links, lib64, empty site-packages")
    func skeleton() throws {
        let scratch = try ScratchDirectory("imagegen-venv")
        let skeleton = try VenvSkeleton(python: python)
        try skeleton.write(into: scratch.path)
        let venv = scratch("opt/venv")
        let name = pythonName(python)
        var expectedConfig = "home = /usr/bin\ninclude-system-site-packages = false\nversion = \(python)\n"
        if (python.major, python.minor) >= (3, 11) {
            expectedConfig += "executable = /usr/bin/\(name)\ncommand = /usr/bin/\(name) -m venv /opt/venv\n"
        }
        #expect(try text("\(venv)/pyvenv.cfg") == expectedConfig)
        #expect(try mode("\(venv)/pyvenv.cfg") == 0o644)
        let fm = FileManager.default
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(venv)/bin/\(name)") == "/usr/bin/\(name)")
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(venv)/bin/python3") == name)
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(venv)/bin/python") == name)
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(venv)/lib64") == "lib")
        #expect(try fm.contentsOfDirectory(atPath: "\(venv)/lib/\(name)/site-packages").isEmpty)
        #expect(listing(scratch.path) == [
            "opt", "opt/venv", "opt/venv/bin", "opt/venv/bin/python", "opt/venv/bin/python3", "opt/venv/bin/\(name)",
            "opt/venv/include", "opt/venv/lib", "opt/venv/lib/\(name)", "opt/venv/lib/\(name)/site-packages", "opt/venv/lib64",
            "opt/venv/pyvenv.cfg",
        ])
        for directory in ["opt", "opt/venv", "opt/venv/bin", "opt/venv/include", "opt/venv/lib/\(name)/site-packages"] {
            #expect(try mode(scratch(directory)) == 0o755, "\(directory)")
        }
        // The real interpreter accepts it as a venv: sys.prefix is the venv's directory.
        let prefix = try run("\(venv)/bin/python3", ["-c", "import sys; print(sys.prefix)"])
        if FileManager.default.fileExists(atPath: "/usr/bin/\(name)") {
            #expect(prefix.stdout == URL(fileURLWithPath: venv).standardizedFileURL.path + "\n")
        }
        #expect(throws: RootfsError.self) { try skeleton.write(into: scratch.path) }
        #expect(throws: RootfsError.self) { try VenvSkeleton(python: PythonVersion(parsing: "3.11")) }
    }

    @Test("a pure wheel: every scheme, modes, shebangs, launchers, INSTALLER, and a RECORD that importlib.metadata checks")
    func pureWheel() throws {
        let scratch = try ScratchDirectory("imagegen-wheel")
        let wheel = try fixturePackage.make(in: scratch.path)
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try VenvSkeleton(python: python).write(into: tree)
        let installed = try WheelInstaller(python: python).install(wheel: wheel, into: tree)

        let name = pythonName(python)
        let sp = layout.sitePackages
        #expect(installed.name == "Fixture.Pkg")
        #expect(installed.version == (try PEP440Version(parsing: "1.2.0")))
        #expect(installed.distInfo == "\(sp)/fixture_pkg-1.2.0.dist-info")
        let expectedFiles = [
            "opt/venv/bin/fixture-cli", "opt/venv/bin/fixture-gui", "opt/venv/bin/fixture-script", "opt/venv/bin/fixture-tool",
            "opt/venv/bin/plain.sh", "opt/venv/include/site/\(name)/Fixture.Pkg/fixture.h",
            "\(sp)/fixture_extra.py",
            "\(sp)/fixture_pkg-1.2.0.dist-info/INSTALLER", "\(sp)/fixture_pkg-1.2.0.dist-info/METADATA",
            "\(sp)/fixture_pkg-1.2.0.dist-info/RECORD", "\(sp)/fixture_pkg-1.2.0.dist-info/WHEEL",
            "\(sp)/fixture_pkg-1.2.0.dist-info/entry_points.txt",
            "\(sp)/fixturepkg/__init__.py", "\(sp)/fixturepkg/bin/helper.sh", "\(sp)/fixturepkg/core.py",
            "\(sp)/fixturepkg/odd,name.txt",
            "opt/venv/share/x.txt",
        ].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(installed.files == expectedFiles)

        // Modes: the executable bit from the zip, 0755 for scripts, 0644 otherwise, 0755 directories.
        let modes: [String: Int] = [
            "\(sp)/fixturepkg/__init__.py": 0o644, "\(sp)/fixturepkg/bin/helper.sh": 0o755, "\(sp)/fixturepkg/empty": 0o755,
            "\(sp)/fixturepkg": 0o755, "opt/venv/bin/fixture-script": 0o755, "opt/venv/bin/plain.sh": 0o755,
            "opt/venv/bin/fixture-cli": 0o755, "opt/venv/share/x.txt": 0o644, "opt/venv/share": 0o755,
            "\(sp)/fixture_pkg-1.2.0.dist-info/RECORD": 0o644, "\(sp)/fixture_pkg-1.2.0.dist-info/INSTALLER": 0o644,
        ]
        for (path, expected) in modes { #expect(try mode("\(tree)/\(path)") == expected, "\(path)") }

        // Shebangs: `#!python` rewritten to the venv's interpreter, others kept.
        let rewrittenScript = "#!/opt/venv/bin/\(name)\nimport fixturepkg\nprint('script', fixturepkg.VERSION)\n"
        #expect(try text("\(tree)/opt/venv/bin/fixture-script") == rewrittenScript)
        #expect(try text("\(tree)/opt/venv/bin/plain.sh") == "#!/bin/sh\necho plain\n")
        #expect(try text("\(tree)/opt/venv/bin/fixture-tool") == """
            #!/opt/venv/bin/\(name)
            # -*- coding: utf-8 -*-
            import re
            import sys
            from fixturepkg.core import Tool
            if __name__ == '__main__':
                sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
                sys.exit(Tool.run())

            """)
        #expect(try text("\(tree)/\(sp)/fixture_pkg-1.2.0.dist-info/INSTALLER") == "imagegen\n")

        // RECORD: every installed file, relative to site-packages, sorted, hashed and sized.
        let record = try text("\(tree)/\(sp)/fixture_pkg-1.2.0.dist-info/RECORD")
        let lines = record.split(separator: "\n").map(String.init)
        #expect(lines.contains("fixture_pkg-1.2.0.dist-info/RECORD,,"))
        #expect(lines.contains { $0.hasPrefix("\"fixturepkg/odd,name.txt\",sha256=") })
        #expect(lines.contains { $0.hasPrefix("../../../bin/fixture-cli,sha256=") })
        #expect(lines.contains { $0.hasPrefix("../../../share/x.txt,sha256=") })
        #expect(lines.contains { $0.hasPrefix("../../../include/site/\(name)/Fixture.Pkg/fixture.h,sha256=") })
        #expect(lines.count == expectedFiles.count)
        let paths = lines.map { $0.hasPrefix("\"") ? String($0.dropFirst().prefix { $0 != "\"" }) : String($0.prefix { $0 != "," }) }
        #expect(paths == paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let script = "\(tree)/opt/venv/bin/fixture-script"
        let scriptSize = try FileManager.default.attributesOfItem(atPath: script)[.size] as? Int
        #expect(lines.contains("../../../bin/fixture-script,\(try recordHash(of: script)),\(scriptSize ?? -1)"))

        // The real interpreter: importlib.metadata reads the dist-info and checks every RECORD row.
        let check = try run("python3", ["-c", """
            import base64, hashlib, sys, importlib.metadata as m
            sys.path.insert(0, sys.argv[1])
            d = m.distribution("fixture-pkg")
            assert d.version == "1.2.0" and d.read_text("INSTALLER") == "imagegen\\n"
            print(sorted(e.name for e in d.entry_points if e.group in ("console_scripts", "gui_scripts")))
            for f in d.files:
                if f.hash is None:
                    assert str(f).endswith("RECORD"), f
                    continue
                data = f.locate().read_bytes()
                assert f.hash.mode == "sha256" and len(data) == f.size, f
                assert base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode() == f.hash.value, f
            import fixturepkg, fixture_extra
            print(fixturepkg.greet(), fixture_extra.EXTRA, len(d.files))
            """, "\(tree)/\(sp)"])
        #expect(check.stderr == "")
        #expect(check.stdout == "['fixture-cli', 'fixture-gui', 'fixture-tool']\nhello world True \(expectedFiles.count)\n")

        // The launchers and the script run, by the interpreter, against the tree.
        let environment = ["PYTHONPATH": "\(tree)/\(sp)"]
        let cli = try run("python3", ["\(tree)/opt/venv/bin/fixture-cli"], environment: environment)
        #expect(cli.status == 0 && cli.stdout == "hello console\n", "\(cli.stderr)")
        let tool = try run("python3", ["\(tree)/opt/venv/bin/fixture-tool"], environment: environment)
        #expect(tool.status == 3 && tool.stdout == "tool run\n", "\(tool.stderr)")
        let rewritten = try run("python3", [script], environment: environment)
        #expect(rewritten.status == 0 && rewritten.stdout == "script 1.2.0\n", "\(rewritten.stderr)")

        // Reproducible: a second tree gets the same bytes.
        let again = scratch("again")
        try FileManager.default.createDirectory(atPath: again, withIntermediateDirectories: true)
        _ = try WheelInstaller(python: python).install(wheel: wheel, into: again)
        #expect(try text("\(again)/\(sp)/fixture_pkg-1.2.0.dist-info/RECORD") == record)
    }

    @Test("NVIDIA wheels share the nvidia namespace; LdSoConf lists their lib directories")
    func nvidiaWheels() throws {
        let scratch = try ScratchDirectory("imagegen-nvidia")
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        #expect(try LdSoConf.write(component: "cuda", root: tree, python: python) == [])
        #expect(listing(tree) == [])

        let installer = WheelInstaller(python: python)
        let runtime = try installer.install(wheel: try cudaRuntime.make(in: scratch.path), into: tree)
        // The second wheel ships `nvidia/__init__.py` too, byte for byte: allowed, listed by both.
        let blas = try installer.install(wheel: try cublas.make(in: scratch.path), into: tree)
        let sp = layout.sitePackages
        #expect(runtime.files.contains("\(sp)/nvidia/__init__.py") && blas.files.contains("\(sp)/nvidia/__init__.py"))
        #expect(try mode("\(tree)/\(sp)/nvidia/cuda_runtime/lib/libcudart.so.12") == 0o755)
        #expect(try mode("\(tree)/\(sp)/nvidia/cuda_runtime/include/cuda_runtime_api.h") == 0o644)

        let directories = try LdSoConf.write(component: "cuda", root: tree, python: python)
        #expect(directories == ["/\(sp)/nvidia/cublas/lib", "/\(sp)/nvidia/cuda_runtime/lib"])
        let conf = "\(tree)/etc/ld.so.conf.d/imagegen-cuda.conf"
        let lines = try text(conf).split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(lines == directories)
        #expect(try mode(conf) == 0o644)
        #expect(throws: RootfsError.self) { try LdSoConf.write(component: "../x", root: tree, python: python) }
    }

    /// Wheels that must be refused, and what the error must name.
    enum Refused: String, CaseIterable, CustomTestStringConvertible {
        case parentMember, absoluteMember, dataEscape, symlinkMember, recordMismatch

        var testDescription: String { rawValue }

        var wheel: WheelFixture {
            let good = WheelFixture.Member("fixturebad/__init__.py", "X = 1\n")
            let bad: WheelFixture.Member
            var tamper: Set<String> = []
            switch self {
            case .parentMember: bad = .init("../escape.txt", "out\n")
            case .absoluteMember: bad = .init("/tmp/imagegen-absolute-escape.txt", "out\n")
            case .dataEscape: bad = .init("fixture_bad-1.0.data/data/../../../../../../etc/passwd", "root::0:0::/:/bin/sh\n")
            case .symlinkMember: bad = .init("fixturebad/link", "/etc/passwd", symlink: true)
            case .recordMismatch:
                bad = .init("fixturebad/data.txt", "the real bytes\n")
                tamper = ["fixturebad/data.txt"]
            }
            // The bad member comes last, so that a late refusal has something to undo.
            return WheelFixture(name: "fixture-bad", version: "1.0", members: [good, bad], tamper: tamper)
        }

        var entry: String { wheel.members[1].name }
    }

    @Test(
        "refused: '..', absolute paths, escapes through .data, symlinks, RECORD mismatches; nothing is left behind",
        arguments: Refused.allCases)
    func refusals(_ refused: Refused) throws {
        let scratch = try ScratchDirectory("imagegen-refuse")
        let wheel = try refused.wheel.make(in: scratch("wheels"))
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let error = #expect(throws: RootfsError.self) {
            try WheelInstaller(python: python).install(wheel: wheel, into: tree)
        }
        switch (refused, error) {
        case (.recordMismatch, .recordMismatch(let wheel, let file, _, _)?):
            #expect(wheel == refused.wheel.fileName && file == refused.entry)
        case (.recordMismatch, _): Issue.record("expected a RECORD mismatch, got \(String(describing: error))")
        case (_, .unsafeWheelEntry(let wheel, let entry, _)?):
            #expect(wheel == refused.wheel.fileName && entry == refused.entry)
        default: Issue.record("expected an unsafe entry, got \(String(describing: error))")
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(refused.wheel.fileName))
        // Nothing outside the tree, nothing left in it.
        #expect(listing(tree) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["tree", "wheels"])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/imagegen-absolute-escape.txt"))
    }

    @Test("two wheels installing one file with different bytes: refused, naming both")
    func conflict() throws {
        let scratch = try ScratchDirectory("imagegen-conflict")
        let first = WheelFixture(
            name: "fixture-a", version: "1.0", members: [.init("shared/data.txt", "from a\n"), .init("fixture_a.py", "")])
        let second = WheelFixture(
            name: "fixture-b", version: "2.0", members: [.init("fixture_b.py", ""), .init("shared/data.txt", "from b\n")])
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let installer = WheelInstaller(python: python)
        let a = try installer.install(wheel: try first.make(in: scratch.path), into: tree)
        let error = #expect(throws: RootfsError.self) {
            try installer.install(wheel: try second.make(in: scratch.path), into: tree)
        }
        guard case .fileConflict(let path, let wheel, let existing)? = error else {
            Issue.record("expected a file conflict, got \(String(describing: error))")
            return
        }
        #expect(path == "\(layout.sitePackages)/shared/data.txt")
        #expect(wheel == second.fileName)
        #expect(existing.hasPrefix("fixture-a 1.0 "))
        #expect("\(error!)".contains(second.fileName) && "\(error!)".contains("fixture-a 1.0"))
        // The first wheel's files are untouched; the second's were removed again.
        #expect(try text("\(tree)/\(path)") == "from a\n")
        #expect(regularFiles(tree) == a.files)
    }

    @Test("the tree's own links: no writing through a symlink, no overwriting the interpreter link")
    func treeLinks() throws {
        let scratch = try ScratchDirectory("imagegen-links")
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try VenvSkeleton(python: python).write(into: tree)
        let before = listing(tree)
        let installer = WheelInstaller(python: python)

        let throughLink = WheelFixture(
            name: "fixture-link", version: "1.0", members: [.init("fixture_link-1.0.data/data/lib64/evil.txt", "x\n")])
        let error = #expect(throws: RootfsError.self) { try installer.install(wheel: try throughLink.make(in: scratch.path), into: tree) }
        guard case .unsafeWheelEntry(let wheel, let entry, let reason)? = error else {
            Issue.record("expected an unsafe entry, got \(String(describing: error))")
            return
        }
        #expect(wheel == throughLink.fileName && entry == "fixture_link-1.0.data/data/lib64/evil.txt" && reason.contains("opt/venv/lib64"))

        let overInterpreter = WheelFixture(
            name: "fixture-python", version: "1.0", members: [.init("fixture_python-1.0.data/scripts/python3", "#!python\n")])
        let conflict = #expect(throws: RootfsError.self) {
            try installer.install(wheel: try overInterpreter.make(in: scratch.path), into: tree)
        }
        guard case .fileConflict(let path, _, let existing)? = conflict else {
            Issue.record("expected a file conflict, got \(String(describing: conflict))")
            return
        }
        #expect(path == "opt/venv/bin/python3" && existing.contains("no wheel's RECORD"))
        #expect(listing(tree) == before)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(tree)/opt/venv/bin/python3") == pythonName(python))
    }

    @Test("real wheels (pip, setuptools): the same files, modes and RECORD rows as pip's own install; pip runs",
          .enabled(if: !hostWheels.isEmpty, "needs pip and setuptools wheels on the host"))
    func realWheels() throws {
        let scratch = try ScratchDirectory("imagegen-real")
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let installer = WheelInstaller(python: python)
        let installed = try hostWheels.map { try installer.install(wheel: $0, into: tree) }
        let sp = layout.sitePackages
        let pip = try #require(installed.first { $0.name == "pip" })
        let version = try run("python3", ["\(tree)/opt/venv/bin/pip", "--version"], environment: ["PYTHONPATH": "\(tree)/\(sp)"])
        let treePath = URL(fileURLWithPath: tree).standardizedFileURL.path
        #expect(version.status == 0 && version.stdout.hasPrefix("pip \(pip.version) from \(treePath)/\(sp)/pip"), "\(version.stderr)")

        guard hostHasPip else { return }
        let reference = scratch("pip")
        let pipInstall = try run(hostPython3, [
            "-m", "pip", "install", "--quiet", "--root", reference, "--prefix", "/opt/venv", "--no-compile", "--no-deps",
            "--no-index", "--ignore-installed", "--disable-pip-version-check", "--no-warn-script-location",
        ] + hostWheels, environment: ["PIP_ROOT_USER_ACTION": "ignore"])
        try #require(pipInstall.status == 0, "\(pipInstall.stderr)")
        // pip also writes REQUESTED and direct_url.json (for a wheel given by path); scripts
        // differ by their shebang (the host's interpreter), INSTALLER by its content.
        func siteFiles(_ root: String) -> [String] {
            regularFiles("\(root)/\(sp)").filter { !$0.hasSuffix("/REQUESTED") && !$0.hasSuffix("/direct_url.json") }
        }
        let ours = siteFiles(tree)
        #expect(ours == siteFiles(reference))
        #expect(ours.count > 500)
        var differentModes: [String] = []
        for file in ours where try mode("\(tree)/\(sp)/\(file)") != mode("\(reference)/\(sp)/\(file)") { differentModes.append(file) }
        #expect(differentModes == [])
        for wheel in installed {
            let name = wheel.distInfo.split(separator: "/").last!
            func rows(_ root: String) throws -> Set<String> {
                Set(try text("\(root)/\(sp)/\(name)/RECORD").split(whereSeparator: \.isNewline).map(String.init).filter {
                    !$0.hasPrefix("../") && !$0.contains(".dist-info/INSTALLER,") && !$0.contains(".dist-info/REQUESTED,")
                        && !$0.contains(".dist-info/direct_url.json,")
                })
            }
            #expect(try rows(tree) == rows(reference), "\(name)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(tree)/opt/venv/bin").sorted()
            == FileManager.default.contentsOfDirectory(atPath: "\(reference)/opt/venv/bin").sorted())
    }

    @Test("malformed wheels: not a zip, no .dist-info, an entry point that is not module:attr")
    func malformed() throws {
        let scratch = try ScratchDirectory("imagegen-malformed")
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let installer = WheelInstaller(python: python)
        try writeFile(scratch("junk-1.0-py3-none-any.whl"), "not a zip\n")
        var wheels = [scratch("junk-1.0-py3-none-any.whl")]
        try FileManager.default.createDirectory(atPath: scratch("plain"), withIntermediateDirectories: true)
        try writeFile(scratch("plain/x.txt"), "x\n")
        try #require(run("python3", ["-m", "zipfile", "-c", scratch("nodist-1.0-py3-none-any.whl"), scratch("plain/x.txt")]).status == 0)
        wheels.append(scratch("nodist-1.0-py3-none-any.whl"))
        // The value becomes Python code in the launcher: anything but dotted names is refused.
        let injection = WheelFixture(
            name: "fixture-inject", version: "1.0", members: [.init("inject.py", "")],
            entryPoints: "[console_scripts]\nevil = os; import shutil:main\n")
        wheels.append(try injection.make(in: scratch.path))
        for wheel in wheels {
            let error = #expect(throws: RootfsError.self) { try installer.install(wheel: wheel, into: tree) }
            guard case .invalidWheel(let name, _)? = error else {
                Issue.record("expected an invalid wheel, got \(String(describing: error))")
                continue
            }
            #expect(wheel.hasSuffix("/" + name))
        }
        #expect(listing(tree) == [])
    }

    @Test("#!python rewriting streams: any chunking, CRLF, pythonw, no newline, short files, other shebangs")
    func shebangs() throws {
        let cases: [(String, String)] = [
            ("#!python\nprint(1)\n", "#!/opt/venv/bin/python3.11\nprint(1)\n"),
            ("#!pythonw -u\r\nprint(1)\r\n", "#!/opt/venv/bin/python3.11\nprint(1)\r\n"),
            ("#!python", "#!/opt/venv/bin/python3.11\n"),
            ("#!pyth", "#!pyth"),
            ("#!/bin/sh\necho\n", "#!/bin/sh\necho\n"),
            ("", ""),
            ("#!python3\n", "#!/opt/venv/bin/python3.11\n"),
        ]
        for (input, expected) in cases {
            for chunk in [1, 2, 3, 7, 64] {
                var rewriter = ShebangRewriter(interpreter: "/opt/venv/bin/python3.11")
                var out: [UInt8] = []
                let bytes = Array(input.utf8)
                for start in stride(from: 0, to: bytes.count, by: chunk) {
                    try bytes[start..<min(start + chunk, bytes.count)].withUnsafeBytes { piece in
                        try rewriter.feed(piece) { out += $0 }
                    }
                }
                try rewriter.finish { out += $0 }
                #expect(String(decoding: out, as: UTF8.self) == expected, "\(input.debugDescription) in chunks of \(chunk)")
            }
        }
    }

    @Test("RECORD: quoted fields, CRLF, blank lines; rendered sorted with quotes only where needed")
    func recordFormat() throws {
        let text = "b.py,sha256=x,1\r\n\"a,\"\"q\"\".txt\",sha256=y,2\n\nz/RECORD,,"
        let record = try WheelRecord(parsing: Array(text.utf8), wheel: "w.whl")
        #expect(record.rows.map(\.path) == ["b.py", "a,\"q\".txt", "z/RECORD"])
        #expect(String(decoding: record.rendered(), as: UTF8.self) == "\"a,\"\"q\"\".txt\",sha256=y,2\nb.py,sha256=x,1\nz/RECORD,,\n")
        #expect(throws: RootfsError.self) { try WheelRecord(parsing: Array("a,b\n".utf8), wheel: "w.whl") }
        #expect(WheelFormat.urlsafeBase64([0xFB, 0xFF]) == "-_8")
        #expect(WheelFormat.urlsafeBase64(Array("hello".utf8)) == "aGVsbG8")
    }
}
