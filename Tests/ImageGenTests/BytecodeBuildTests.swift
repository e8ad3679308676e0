import Foundation
import Glibc
import ImageGen
import ImageModel
import OCI
import Rootfs
import TestSupport
import Testing

/// The bytecode of a built image (`tiny` of ``BuildTests``): what Debian's `postinst` and pip
/// would have compiled is there, the image's Python uses it without compiling or writing
/// anything, two builds give the same `.pyc` bytes, and a host without the interpreter is told so.
@Suite("Bytecode in built images", .timeLimit(.minutes(8)))
struct BytecodeBuildTests {
    /// Every `.pyc` below `root` with its bytes, by path relative to `root`.
    static func pycs(in root: String) throws -> [String: [UInt8]] {
        var found: [String: [UInt8]] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let path = walker?.nextObject() as? String {
            guard path.hasSuffix(".pyc") else { continue }
            var st = stat()
            guard lstat("\(root)/\(path)", &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            found[path] = try FileReader.readAll(path: "\(root)/\(path)", limit: 1 << 26)
        }
        return found
    }

    /// `.pyc` files' mtimes and sizes, to see that nothing wrote one.
    static func stamps(in root: String) -> [String: [Int]] {
        var found: [String: [Int]] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let path = walker?.nextObject() as? String {
            guard path.hasSuffix(".pyc") || path.hasSuffix("__pycache__") else { continue }
            var st = stat()
            guard lstat("\(root)/\(path)", &st) == 0 else { continue }
            found[path] = [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_size), Int(st.st_ino)]
        }
        return found
    }

    @Test("the stdlib and the wheels carry .pyc files: the ones Debian's postinst and pip make, no others")
    func present() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-bytecode-present")
        let rootfs = try BuildTests.unpack("\(built.out)/tiny", into: scratch("bundle"))
        let pycs = try Self.pycs(in: rootfs)

        // python3.11-minimal's postinst compiles libpython3.11-minimal's /usr/lib/python3.11/*.py
        // (sitecustomize.py through its symlink into /etc); nothing else in the tiny image asks.
        let list = String(decoding: try FileReader.readAll(path: "\(rootfs)/var/lib/dpkg/info/libpython3.11-minimal:amd64.list", limit: 1 << 22), as: UTF8.self)
        let stdlib = list.split(separator: "\n").filter { $0.hasPrefix("/usr/lib/python3.11/") && $0.hasSuffix(".py") }
        #expect(stdlib.count > 200)
        var expected: Set<String> = []
        for path in stdlib {
            let directory = (String(path) as NSString).deletingLastPathComponent.dropFirst()
            expected.insert("\(directory)/__pycache__/\((String(path) as NSString).lastPathComponent.dropLast(3)).cpython-311.pyc")
        }
        // pip compiles each wheel's modules: the app's and the library's __init__.py, the fake CUDA wheels'.
        let site = "opt/venv/lib/python3.11/site-packages"
        let wheels = Set(pycs.keys.filter { $0.hasPrefix(site) })
        #expect(wheels.contains("\(site)/imagegen_fixture_app/__pycache__/__init__.cpython-311.pyc"))
        #expect(wheels.contains("\(site)/imagegen_fixture_lib/__pycache__/__init__.cpython-311.pyc"))
        #expect(Set(pycs.keys).subtracting(wheels) == expected)
        // Each wheel's RECORD lists its .pyc as pip does.
        let record = try FileReader.readAll(path: "\(rootfs)/\(site)/imagegen_fixture_app-1.0.dist-info/RECORD", limit: 1 << 20)
        #expect(String(decoding: record, as: UTF8.self).contains("imagegen_fixture_app/__pycache__/__init__.cpython-311.pyc,,\n"))
        // Every header is a timestamp one holding the time of the layer's files.
        let mtime = UInt32(truncatingIfNeeded: BuildTests.sourceDateEpoch)
        for (path, bytes) in pycs {
            #expect(bytes.count > 16 && Array(bytes[0..<8]) == [0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0], "\(path)")
            #expect(bytes[8..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } == mtime.littleEndian, "\(path)")
        }
    }

    @Test("the stdlib's .pyc files hold the code Debian's own py_compile wrote on this host, byte for byte")
    func sameAsDebian() async throws {
        let built = try await BuildTests.Built.shared.value
        // The image's Python is the host's Debian one (BuildTests repacks its packages): the build
        // compiles with it when PATH has it, whatever else comes first.
        let debian = try HostPython.find(for: PythonVersion(parsing: "3.11"), searchPath: "/usr/bin")
        let host = try HostPython.find(for: debian.version, searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
        try #require(host.version == debian.version, "the build compiles with \(host.executable) \(host.version), the host's Debian Python is \(debian.version)")
        let scratch = try ScratchDirectory("imagegen-bytecode-debian")
        let rootfs = try BuildTests.unpack("\(built.out)/tiny", into: scratch("bundle"))
        var compared = 0
        for (path, bytes) in try Self.pycs(in: "\(rootfs)/usr/lib/python3.11") {
            // The host's own, written by python3.11-minimal's postinst (header: the host file's time).
            guard let theirs = try? FileReader.readAll(path: "/usr/lib/python3.11/\(path)", limit: 1 << 26) else { continue }
            #expect(Array(bytes.dropFirst(16)) == Array(theirs.dropFirst(16)), "\(path)")
            compared += 1
        }
        #expect(compared > 200)
    }

    @Test(
        "the image's Python imports from the .pyc files: none is stale, none is written, none compiled (python -v, in a chroot)",
        .enabled(if: getuid() == 0, "chroot needs root: run the tests as root to run the image's Python"))
    func used() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-bytecode-used")
        let rootfs = try BuildTests.unpack("\(built.out)/tiny", into: scratch("bundle"))
        let before = Self.stamps(in: rootfs)
        let program = """
            import sys, os, argparse, base64, collections, email.parser, imagegen_fixture_app, imagegen_fixture_lib
            # Modules from libpython3.11-minimal (not frozen ones such as os) and the wheels.
            for name in ["argparse", "base64", "collections", "email.parser", "imagegen_fixture_app", "imagegen_fixture_lib"]:
                module = sys.modules[name]
                with open(module.__cached__, "rb") as f:
                    header = f.read(16)
                source = os.stat(module.__file__)
                assert header[8:12] == int(source.st_mtime).to_bytes(4, "little"), name
                assert header[12:16] == source.st_size.to_bytes(4, "little"), name
                print(name, module.__cached__)
            """
        // -v: the import system says where each module's code came from.
        let result = try run(
            "env", ["-i", "PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "chroot", rootfs, "/opt/venv/bin/python", "-v", "-c", program])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("imagegen_fixture_app /opt/venv/lib/python3.11/site-packages/imagegen_fixture_app/__pycache__/__init__.cpython-311.pyc"))
        let lines = result.stderr.split(separator: "\n")
        let fromCode = lines.filter { $0.hasPrefix("# code object from ") }
        #expect(fromCode.count > 20)
        #expect(fromCode.allSatisfy { $0.hasSuffix(".pyc'") }, "compiled from source: \(fromCode.filter { !$0.hasSuffix(".pyc'") })")
        #expect(!lines.contains { $0.contains("bytecode is stale") || $0.hasPrefix("# created ") || $0.hasPrefix("# wrote ") || $0.contains("could not create") })
        #expect(Self.stamps(in: rootfs) == before)

        // The control: a source whose time no longer matches is seen, compiled and written anew.
        var times = [timespec(tv_sec: Int(BuildTests.sourceDateEpoch) + 1, tv_nsec: 0), timespec(tv_sec: Int(BuildTests.sourceDateEpoch) + 1, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, "\(rootfs)/usr/lib/python3.11/base64.py", &times, 0) == 0)
        let stale = try run(
            "env", ["-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "chroot", rootfs, "/opt/venv/bin/python", "-v", "-c", "import base64"])
        #expect(stale.stderr.contains("# bytecode is stale for 'base64'"), "\(stale.stderr)")
        #expect(stale.stderr.contains("# code object from /usr/lib/python3.11/base64.py\n"))
        #expect(stale.stderr.contains("# created '/usr/lib/python3.11/__pycache__/base64.cpython-311.pyc'"))
    }

    @Test("two builds of one lock, from empty caches and with other numbers of compilers, give the same .pyc bytes")
    func reproducible() async throws {
        let built = try await BuildTests.Built.shared.value
        let fixtures = try BuildTests.Fixtures.shared.get()
        let scratch = try ScratchDirectory("imagegen-bytecode-again")
        let servers = try fixtures.serve()
        var options = try BuildTests.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: servers)
        options.threads = 8
        options.parallelLayers = 1
        let again = try await Builder(options: options).build("tiny")
        #expect(again.layers.allSatisfy { !$0.reused })
        let first = try Self.pycs(in: try BuildTests.unpack("\(built.out)/tiny", into: scratch("first")))
        let second = try Self.pycs(in: try BuildTests.unpack(scratch("out/tiny"), into: scratch("second")))
        #expect(first.count > 200)
        #expect(first == second)
        #expect(again.manifest == built.report.manifest)
    }

    @Test("no host python3.11: the build stops before making a layer, with one line that says what to install")
    func missingInterpreter() async throws {
        let built = try await BuildTests.Built.shared.value
        let scratch = try ScratchDirectory("imagegen-bytecode-missing")
        try FileManager.default.createDirectory(atPath: scratch("empty-bin"), withIntermediateDirectories: true)
        var options = try BuildTests.options(images: built.images, cache: scratch("cache"), out: scratch("out"), servers: nil)
        try FileManager.default.createDirectory(atPath: scratch("cache"), withIntermediateDirectories: true)
        try BuildTests.copy("\(built.cache)/artifacts", to: scratch("cache/artifacts"))
        options.offline = true
        options.hostPythonPath = scratch("empty-bin")
        let error = await #expect(throws: RootfsError.self) { try await Builder(options: options).build("tiny") }
        let text = try #require(error).description
        #expect(text == "no CPython 3.11 (python3.11) on PATH (\(scratch("empty-bin"))) to byte-compile the image's Python files with; "
            + "install python3.11-minimal (scripts/install-deps.sh) or put a CPython 3.11 first on PATH")
        #expect(!FileManager.default.fileExists(atPath: scratch("out")))
    }
}
