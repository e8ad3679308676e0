import Foundation
import Glibc
import ImageModel
import Layers
import OCI
import Rootfs
import Testing
import TestSupport

/// What the bytecode costs to make and what it saves, on real wheels (opt-in: it needs them):
///
///     IMAGEGEN_BYTECODE_WHEELS=DIR [IMAGEGEN_BYTECODE_IMPORT=torch] swift test --filter BytecodeBenchmark
///
/// installs every wheel in DIR into two venv trees as a build does (file times set to the
/// layer's), compiles one of them, then times five rounds of a first and a second
/// `import MODULE` in each: the compiled tree as the image ships it, and the other from an
/// empty `__pycache__` each round, as every new container started without bytecode. The
/// figures in docs/building.md ("Bytecode") come from DIR = torch 2.13.0+cpu and its 8
/// dependencies.
@Suite(
    "Bytecode benchmark (opt-in)",
    .enabled(if: ProcessInfo.processInfo.environment["IMAGEGEN_BYTECODE_WHEELS"] != nil, "set IMAGEGEN_BYTECODE_WHEELS to a directory of wheels"))
struct BytecodeBenchmark {
    @Test("compile time, and the first and second import with and without the .pyc files")
    func benchmark() throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = try #require(environment["IMAGEGEN_BYTECODE_WHEELS"])
        let module = environment["IMAGEGEN_BYTECODE_IMPORT"] ?? "torch"
        let wheels = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".whl") }.sorted().map { "\(directory)/\($0)" }
        let python = try HostPython.find(for: PythonVersion(parsing: "3.11"), searchPath: environment["PATH"] ?? "/usr/bin")
        let scratch = try ScratchDirectory("imagegen-bytecode-benchmark")
        let time: Int64 = 1_700_000_000
        var trees: [String] = []
        for name in ["compiled", "plain"] {
            let root = scratch(name)
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let installer = WheelInstaller(python: python.version)
            var installed: [InstalledWheel] = []
            let started = ContinuousClock.now
            for wheel in wheels { installed.append(try installer.install(wheel: wheel, into: root)) }
            let files = installed.reduce(0) { $0 + $1.files.filter { $0.hasSuffix(".py") }.count }
            if name == "compiled" {
                let installedAt = ContinuousClock.now
                try BytecodeCompiler(python: python).compileInstalled(installed, placeholders: [:], root: root, mtime: time)
                print("bytecode benchmark: \(wheels.count) wheels, \(files) .py files: installed in \(installedAt - started), compiled in \(ContinuousClock.now - installedAt) (\(python.executable) \(python.version), one interpreter)")
            }
            // The layer gives every file this time.
            #expect(try run("find", [root, "-exec", "touch", "-h", "-d", "@\(time)", "{}", "+"]).status == 0)
            trees.append("\(root)/opt/venv/lib/python3.11/site-packages")
        }
        let before = try run("find", [trees[0], "-name", "*.pyc", "-printf", "%p %s %T@\n"]).stdout
        /// Wall and CPU seconds of one `import MODULE` from `site`, writing allowed.
        func timed(_ site: String) throws -> String {
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PYTHON") }
            environment["PYTHONPATH"] = site
            let result = try run("env", ["-i"] + environment.map { "\($0.key)=\($0.value)" } + [
                "/usr/bin/time", "-f", "%e s wall, %U+%S s CPU", python.executable, "-c", "import \(module)",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            return String(result.stderr.split(separator: "\n").last ?? "")
        }
        for round in 1...5 {
            let shipped = (try timed(trees[0]), try timed(trees[0]))
            #expect(try run("find", [trees[1], "-name", "__pycache__", "-prune", "-exec", "rm", "-rf", "{}", "+"]).status == 0)
            let fresh = (try timed(trees[1]), try timed(trees[1]))
            print("bytecode benchmark: round \(round): with .pyc first \(shipped.0), second \(shipped.1); without: first \(fresh.0), second \(fresh.1)")
        }
        #expect(try run("find", [trees[0], "-name", "*.pyc", "-printf", "%p %s %T@\n"]).stdout == before, "importing wrote .pyc files")
    }
}
