import Foundation
import Glibc
import ImageModel
import Layers
import OCI
@testable import Rootfs
import Testing
import TestSupport

/// The host's CPython 3.11, when there is one (scripts/install-deps.sh installs it).
private let host311: HostPython? = try? HostPython.find(
    for: PythonVersion(parsing: "3.11"), searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")

/// Byte-compiling trees with a host interpreter: what is compiled, that the bytes are
/// `py_compile`'s, that they depend on nothing but the sources, and the missing-interpreter error.
@Suite("Bytecode compiled by a host CPython", .enabled(if: host311 != nil, "needs python3.11 on PATH (scripts/install-deps.sh)"))
struct BytecodeTests {
    static let time: Int64 = 1_700_000_000

    /// What the host's own `py_compile` writes for `source` (its bytes) recorded as `dfile`,
    /// the source's mtime being `time`.
    static func pyCompile(_ source: [UInt8], dfile: String, flavour: BytecodeCompiler.Flavour, in scratch: ScratchDirectory) throws -> [UInt8] {
        let python = try #require(host311)
        let input = scratch("reference-\(UUID().uuidString).py")
        try writeFile(input, source)
        var times = [timespec(tv_sec: Int(time), tv_nsec: 0), timespec(tv_sec: Int(time), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, input, &times, 0) == 0)
        let mode = ["timestamp": "TIMESTAMP", "checked-hash": "CHECKED_HASH", "unchecked-hash": "UNCHECKED_HASH"][flavour.rawValue]!
        let program = """
            import py_compile, sys
            py_compile.compile(sys.argv[1], cfile=sys.argv[1] + "c", dfile=sys.argv[2], doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.\(mode))
            """
        let result = try run(python.executable, ["-c", program, input, dfile])
        try #require(result.status == 0, "\(result.stderr)")
        return try FileReader.readAll(path: input + "c", limit: 1 << 24)
    }

    /// A module with what marshal writes in several ways: sets, nested code, shared constants,
    /// one-character and non-ASCII strings.
    static func module(_ index: Int) -> String {
        """
        \"\"\"Module \(index).\"\"\"
        import os
        NAMES = {"alpha", "beta", "g\(index)"}
        TABLE = {"{": "}", "é": \(index), (1, 2): 3.5}

        def f\(index)(x, *args, **kwargs):
            def inner(y=("a", "b")):
                return y, x in {"alpha", "beta"}, f"{x!r}:{y}"
            return inner, "{" + str(x) + "}"

        class C\(index):
            value = \(index) * 2
            def method(self):
                return [i for i in range(\(index)) if i % 3], os.sep
        """
    }

    @Test("the exact version is preferred, then the first of the MAJOR.MINOR; other interpreters are not used")
    func finding() throws {
        let scratch = try ScratchDirectory()
        // Stand-ins that answer pyc-compiler's probe as an interpreter would.
        func fake(_ directory: String, _ ready: String) throws {
            try writeFile(scratch("\(directory)/python3.11"), "#!/bin/sh\necho '\(ready)'\necho /opt/\(directory)/bin/python3.11\n", mode: 0o755)
        }
        try fake("newer", "READY cpython 3.11.9 cpython-311 a70d0d0a")
        try fake("exact", "READY cpython 3.11.2 cpython-311 a70d0d0a")
        try fake("pypy", "READY pypy 3.11.2 pypy311 a70d0d0a")
        let path = ["pypy", "newer", "exact"].map { scratch($0) }.joined(separator: ":")
        let exact = try HostPython.find(for: PythonVersion(parsing: "3.11.2"), searchPath: path)
        #expect(exact.executable == "/opt/exact/bin/python3.11")
        #expect(exact.version == (try PythonVersion(parsing: "3.11.2")))
        let other = try HostPython.find(for: PythonVersion(parsing: "3.11.4"), searchPath: path)
        #expect(other.executable == "/opt/newer/bin/python3.11")
        #expect(other.cacheTag == "cpython-311" && other.magic == "a70d0d0a")
    }

    @Test("no interpreter of the image's MAJOR.MINOR: one line that says what to install")
    func missing() throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch("bin"), withIntermediateDirectories: true)
        #expect {
            _ = try HostPython.find(for: PythonVersion(parsing: "3.11.2"), searchPath: scratch("bin"))
        } throws: { error in
            guard case .noBytecodeCompiler(let python, let searched) = error as? RootfsError else { return false }
            let text = "\(error)"
            return python == "3.11" && searched == scratch("bin") && !text.contains("\n") && text.contains("python3.11-minimal")
        }
    }

    @Test("each flavour's .pyc is py_compile's, byte for byte; what does not compile is skipped; a .pyc already there stays", arguments: BytecodeCompiler.Flavour.allCases)
    func matchesPyCompile(flavour: BytecodeCompiler.Flavour) throws {
        let scratch = try ScratchDirectory()
        let root = scratch("root")
        let files: [String: String] = [
            "usr/lib/python3.11/pkg/__init__.py": Self.module(1),
            "usr/lib/python3.11/pkg/plain.py": "VALUE = 1\n",
            "usr/lib/python3.11/pkg/py2.py": "print 'a Python 2 statement'\n",
            "usr/lib/python3.11/old/only_py2.py": "exec 'x = 1'\n",
            "usr/lib/python3.11/keep/k.py": "K = 1\n",
            "usr/lib/python3.11/keep/__pycache__/k.cpython-311.pyc": "not touched",
        ]
        for (path, text) in files { try writeFile("\(root)/\(path)", text) }
        let compiler = BytecodeCompiler(python: try #require(host311), flavour: flavour)
        let sources = files.keys.filter { $0.hasSuffix(".py") }.sorted().map {
            BytecodeCompiler.Source(path: $0, content: .file("\(root)/\($0)"))
        } + [BytecodeCompiler.Source(path: "usr/lib/python3.11/pkg/memory.py", content: .bytes(Array("M = {'x'}\n".utf8)))]
        let compiled = try compiler.compile(sources, into: root, mtime: Self.time)
        #expect(compiled == [
            "usr/lib/python3.11/pkg/__init__.py": "usr/lib/python3.11/pkg/__pycache__/__init__.cpython-311.pyc",
            "usr/lib/python3.11/pkg/plain.py": "usr/lib/python3.11/pkg/__pycache__/plain.cpython-311.pyc",
            "usr/lib/python3.11/pkg/memory.py": "usr/lib/python3.11/pkg/__pycache__/memory.cpython-311.pyc",
        ])
        for (source, pyc) in compiled {
            let text = files[source].map { Array($0.utf8) } ?? Array("M = {'x'}\n".utf8)
            let ours = try FileReader.readAll(path: "\(root)/\(pyc)", limit: 1 << 24)
            #expect(ours == (try Self.pyCompile(text, dfile: "/" + source, flavour: flavour, in: scratch)), "\(pyc)")
            var st = stat()
            #expect(lstat("\(root)/\(pyc)", &st) == 0 && st.st_mode & 0o7777 == 0o644)
            #expect(lstat("\(root)/\((pyc as NSString).deletingLastPathComponent)", &st) == 0 && st.st_mode & 0o7777 == 0o755)
        }
        // A directory whose only file did not compile gets no __pycache__, as with py_compile.
        #expect(!FileManager.default.fileExists(atPath: "\(root)/usr/lib/python3.11/old/__pycache__"))
        #expect(try FileReader.readAll(path: "\(root)/usr/lib/python3.11/keep/__pycache__/k.cpython-311.pyc", limit: 100) == Array("not touched".utf8))
    }

    @Test("the bytes depend on the sources alone: not on the number of interpreters or the order of the files")
    func workersAndOrder() throws {
        let scratch = try ScratchDirectory()
        let paths = (0..<240).map { "opt/venv/lib/python3.11/site-packages/m\($0 % 7)/mod\($0).py" }
        let sources = paths.enumerated().map { BytecodeCompiler.Source(path: $1, content: .bytes(Array(Self.module($0).utf8))) }
        let python = try #require(host311)
        var trees: [[String: [UInt8]]] = []
        for (workers, order) in [(1, sources), (3, sources.reversed()), (4, sources.shuffled())] {
            let root = scratch("tree-\(workers)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let compiled = try BytecodeCompiler(python: python, workers: workers).compile(Array(order), into: root, mtime: Self.time)
            #expect(compiled.count == paths.count)
            trees.append(try compiled.mapValues { try FileReader.readAll(path: "\(root)/\($0)", limit: 1 << 24) })
        }
        #expect(trees[0] == trees[1])
        #expect(trees[0] == trees[2])
    }

    @Test("an interpreter that dies or answers nonsense: one error with its stderr, the interpreter stopped, nothing hangs")
    func brokenInterpreter() throws {
        let scratch = try ScratchDirectory()
        let ready = "READY cpython 3.11.2 cpython-311 a70d0d0a"
        let python = HostPython(
            executable: scratch("python3.11"), version: try PythonVersion(parsing: "3.11.2"), cacheTag: "cpython-311", magic: "a70d0d0a")
        let sources = (0..<3).map { BytecodeCompiler.Source(path: "m\($0).py", content: .bytes(Array("x = \($0)\n".utf8))) }
        let root = scratch("tree")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let cases = [
            // Dies after starting: the reader meets the end of its output.
            ("echo '\(ready)'; echo 'it broke' >&2; exit 3", "stopped answering (at m0.py); its error output: it broke"),
            // Answers nonsense and would then wait forever: it is killed.
            ("echo '\(ready)'; echo 'said nonsense' >&2; echo nonsense; exec sleep 60", "answered 'nonsense' for m0.py; its error output: said nonsense"),
            // Not the interpreter it was found to be.
            ("echo 'READY cpython 3.11.9 cpython-311 a70d0d0a'; exec sleep 60", "did not start as the CPython 3.11.2 it was found to be"),
        ]
        for (script, expected) in cases {
            try writeFile(python.executable, "#!/bin/sh\n\(script)\n", mode: 0o755)
            let started = ContinuousClock.now
            #expect {
                _ = try BytecodeCompiler(python: python).compile(sources, into: root, mtime: Self.time)
            } throws: { error in
                "\(error)".contains(expected)
            }
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    @Test("a wheel's placeholders are compiled from their streams; RECORD lists the .pyc files as pip does")
    func wheels() throws {
        let scratch = try ScratchDirectory()
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let modules: [String: String] = ["pkg/__init__.py": Self.module(7), "pkg/sub/m.py": "from .. import C7\n"]
        let wheel = try WheelFixture(name: "pkg", version: "1.0", members: modules.map { .init($0.key, $0.value) } + [
            .init("pkg/py2.py", "print 'x'\n"),
            .init("pkg/data.txt", "not Python\n"),
            .init("pkg-1.0.data/scripts/run.py", "#!python\nimport pkg\n", mode: 0o755),
        ]).make(in: scratch.path)
        let installed = try WheelInstaller(python: PythonVersion(parsing: "3.11")).install(wheel: wheel, into: root, placeholders: true)
        let site = "opt/venv/lib/python3.11/site-packages"
        let placeholders = installed.deflatedSources.filter { $0.value.sha256 != nil }
        #expect(placeholders["\(site)/pkg/__init__.py"] != nil, "the module is a placeholder in the tree")
        try BytecodeCompiler(python: try #require(host311)).compileInstalled([installed], placeholders: placeholders, root: root, mtime: Self.time)

        for (member, text) in modules {
            let name = (member as NSString).lastPathComponent.dropLast(3)
            let pyc = "\(site)/\((member as NSString).deletingLastPathComponent)/__pycache__/\(name).cpython-311.pyc"
            let expected = try Self.pyCompile(Array(text.utf8), dfile: "/\(site)/\(member)", flavour: .timestamp, in: scratch)
            #expect(try FileReader.readAll(path: "\(root)/\(pyc)", limit: 1 << 24) == expected, "\(pyc)")
        }
        // The rewritten script is a real file; it is compiled too, as pip compiles every installed .py.
        #expect(FileManager.default.fileExists(atPath: "\(root)/opt/venv/bin/__pycache__/run.cpython-311.pyc"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(site)/pkg/__pycache__/py2.cpython-311.pyc"))

        let record = String(decoding: try FileReader.readAll(path: "\(root)/\(site)/pkg-1.0.dist-info/RECORD", limit: 1 << 20), as: UTF8.self)
        let rows = record.split(separator: "\n").map(String.init)
        let pycRows = rows.filter { $0.contains(".pyc") }
        #expect(pycRows == [
            "../../../bin/__pycache__/run.cpython-311.pyc,,",
            "pkg/__pycache__/__init__.cpython-311.pyc,,",
            "pkg/sub/__pycache__/m.cpython-311.pyc,,",
        ])
        #expect(rows.contains("pkg-1.0.dist-info/RECORD,,"))
        #expect(rows == rows.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }

    @Test("Debian's postinst scripts say which files are compiled")
    func postinstRules() throws {
        let python = try PythonVersion(parsing: "3.11.2")
        // python3.11-minimal's and python3-distutils' scripts (bookworm), shortened.
        let minimal = """
            files=$(dpkg -L libpython3.11-minimal:amd64 \\
                    | sed -n '/^\\/usr\\/lib\\/python3.11\\/.*\\.py$/p' | $filt)
            if [ -n "$files" ]; then
                /usr/bin/python3.11 -E -S /usr/lib/python3.11/py_compile.py $files
            """
        #expect(DebianBytecode.rules(postinst: minimal, python: python) == [
            .init(package: "libpython3.11-minimal", prefixes: ["/usr/lib/python3.11/"]),
        ])
        // dpkg -L without py_compile is not a compilation.
        #expect(DebianBytecode.rules(postinst: "dpkg -L foo | wc -l\n", python: python).isEmpty)
        let dhPython = """
            if which py3compile >/dev/null 2>&1; then
            \tpy3compile -p python3 /usr/share/python3/
            fi
            if command -v py3compile >/dev/null 2>&1; then
            \tpy3compile -p python3-six -X '^.*tests/.*\\.py$'
            fi
            py3compile -O -p python3-optimised
            py3compile -p $PACKAGE
            """
        #expect(DebianBytecode.rules(postinst: dhPython, python: python) == [
            .init(package: "python3", prefixes: ["/usr/share/python3/"]),
            .init(package: "python3-six", prefixes: ["/usr/lib/python3/dist-packages/", "/usr/lib/python3.11/dist-packages/"],
                  excluded: ["^.*tests/.*\\.py$"]),
        ])
        let six = DebianBytecode.Rule(
            package: "python3-six", prefixes: ["/usr/lib/python3/dist-packages/"], excluded: ["^.*tests/.*\\.py$"])
        #expect(six.matches("/usr/lib/python3/dist-packages/six.py"))
        #expect(!six.matches("/usr/lib/python3/dist-packages/six/tests/test_six.py"))
        #expect(!six.matches("/usr/lib/python3/dist-packages/six.pyi"))
        #expect(!six.matches("/usr/share/doc/six/example.py"))
    }
}
