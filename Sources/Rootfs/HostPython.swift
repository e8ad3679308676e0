import Foundation
import ImageModel
import SystemSupport

/// A CPython on the build host that byte-compiles an image's Python files.
///
/// imagegen runs nothing from the image while it builds (an arm64 image builds on amd64), and
/// bytecode depends on the Python version only, not on the CPU: a host interpreter of the
/// image's `MAJOR.MINOR` writes the same `.pyc` files the image's own would. Patch releases
/// can differ in what their compiler emits (3.11.7 and 3.11.2 compile 2 of 595 torch and sympy
/// modules differently), so ``find(for:searchPath:)`` prefers the image's exact version, and the
/// layers that carry `.pyc` files have ``BytecodeCompiler/identity`` in their key.
public struct HostPython: Hashable, Sendable {
    /// The interpreter's own path (`sys.executable`'s target, not a wrapper such as a pyenv shim).
    public var executable: String
    /// Its full version, `3.11.2`.
    public var version: PythonVersion
    /// `sys.implementation.cache_tag`, `cpython-311`: the `.pyc` files' name tag.
    public var cacheTag: String
    /// `importlib.util.MAGIC_NUMBER` in hex, `a70d0d0a`: what every `.pyc` starts with.
    public var magic: String

    /// The `python3.X` on `searchPath` (a `PATH`-style list of directories) for an image whose
    /// Python is `python`: the first one whose full version is `python`'s, else the first
    /// CPython of `python`'s `MAJOR.MINOR`. Throws ``RootfsError/noBytecodeCompiler(python:searched:)``
    /// when there is none.
    public static func find(for python: PythonVersion, searchPath: String) throws -> HostPython {
        let name = "python\(python.majorMinor)"
        var seen: Set<String> = []
        var candidates: [HostPython] = []
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let path = "\(directory)/\(name)"
            guard FileManager.default.isExecutableFile(atPath: path), seen.insert(path).inserted,
                  let found = probe(path), found.version.majorMinor == python.majorMinor,
                  found.cacheTag == "cpython-\(python.major)\(python.minor)"
            else { continue }
            if python.micro != nil, found.version == python { return found }
            candidates.append(found)
        }
        guard let first = candidates.first else {
            throw RootfsError.noBytecodeCompiler(python: "\(python.majorMinor)", searched: searchPath)
        }
        return first
    }

    /// Runs `path` with pyc-compiler's `probe`; nil when it is not a CPython that answers.
    static func probe(_ path: String) -> HostPython? {
        let probe = Subprocess(path, BytecodeCompiler.arguments(flavour: "probe"), environment: BytecodeCompiler.environment())
        // The READY line, then (probe only) `sys.executable`: the interpreter itself, not a wrapper.
        guard let output = try? probe.run(), output.status == .exited(0),
              let lines = String(validating: output.stdout, as: UTF8.self)?.split(separator: "\n"), let line = lines.first
        else { return nil }
        let executable = lines.count > 1 && lines[1].hasPrefix("/") ? String(lines[1]) : path
        return parse(readyLine: String(line), executable: executable)
    }

    /// The interpreter a `READY IMPLEMENTATION VERSION CACHE_TAG MAGIC` line describes.
    static func parse(readyLine line: String, executable: String) -> HostPython? {
        let words = line.split(separator: " ").map(String.init)
        guard words.count == 5, words[0] == "READY", words[1] == "cpython", let version = try? PythonVersion(parsing: words[2]),
              version.micro != nil, words[4].count == 8, words[4].allSatisfy(\.isHexDigit)
        else { return nil }
        return HostPython(executable: executable, version: version, cacheTag: words[3], magic: words[4])
    }
}
