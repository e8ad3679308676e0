import Foundation
import ImageModel
import Layers
import Rootfs

/// Byte-compiling a component's tree as Debian's maintainer scripts and pip would have (see
/// docs/building.md, "Bytecode").
extension ComponentTrees {
    /// The compiler for an image whose Python is `python`: the host's `python3.X` found on
    /// ``Builder/Options/hostPythonPath`` (or `PATH`), with an interpreter per core that a
    /// layer's share of the build has (layers are made `parallelLayers` at a time), 8 at most.
    static func bytecodeCompiler(python: PythonVersion, options: Builder.Options) throws -> BytecodeCompiler {
        let path = options.hostPythonPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let workers = min(8, max(1, options.threads / max(1, options.parallelLayers)))
        return BytecodeCompiler(python: try HostPython.find(for: python, searchPath: path), workers: workers)
    }

    /// ``installWheels(_:into:python:)``, then the installed `.py` files compiled as pip
    /// compiles them and their `.pyc` files listed in each wheel's `RECORD`.
    static func installWheels(
        _ wheels: [String], into root: String, python: PythonVersion, compiler: BytecodeCompiler, mtime: Int64
    ) throws -> [String: DeflatedSource] {
        let installer = WheelInstaller(python: python)
        var sources: [String: DeflatedSource] = [:]
        var installed: [InstalledWheel] = []
        for wheel in wheels {
            // A file two wheels install byte for byte keeps the first one's stream.
            let one = try installer.install(wheel: wheel, into: root, placeholders: true, streams: sources)
            sources.merge(one.deflatedSources) { first, _ in first }
            installed.append(one)
        }
        // Only placeholders' streams carry a SHA-256; a written file is read from the tree.
        try compiler.compileInstalled(installed, placeholders: sources.filter { $0.value.sha256 != nil }, root: root, mtime: mtime)
        return sources
    }

    /// Compiles the Python files that the `postinst` scripts of `debs` (unpacked at `root`)
    /// byte-compile; `lower` are the `.deb` files of the layers below.
    static func compileDebs(_ debs: [String], lower: [String], into root: String, python: PythonVersion, compiler: BytecodeCompiler, mtime: Int64) throws {
        let sources = try DebianBytecode.sources(root: root, debs: debs, lower: lower, python: python)
        _ = try compiler.compile(sources, into: root, mtime: mtime)
    }
}
