import Foundation
import ImageModel
import Rootfs
import TestSupport
import Testing

/// Wheels as hatchling, setuptools and flit write them (``BackendWheelFixture``): members whose
/// modes have no file-type bits install as regular files, as pip installs them.
@Suite("Installing wheels of every build back end")
struct WheelBackendTests {
    @Test("each back end's wheel installs: every file regular, executables 0755, the rest 0644, RECORD rewritten",
          arguments: BackendWheelFixture.allCases)
    func install(_ backend: BackendWheelFixture) throws {
        let scratch = try ScratchDirectory("imagegen-wheel-backend")
        let wheel = try backend.make(in: scratch.path)
        let tree = scratch("tree")
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let python = try PythonVersion(parsing: "3.11.2")
        try VenvSkeleton(python: python).write(into: tree)
        let installed = try WheelInstaller(python: python).install(wheel: wheel, into: tree)
        let sp = "opt/venv/lib/python3.11/site-packages"
        let modes: [String: Int] = [
            "\(sp)/demo/__init__.py": 0o644, "\(sp)/demo/data.txt": 0o644, "\(sp)/demo/run.sh": 0o755,
            "opt/venv/bin/demo-hello": 0o755, "opt/venv/bin/demo-cli": 0o755,
            "\(sp)/demo-1.0.dist-info/METADATA": 0o644, "\(sp)/demo-1.0.dist-info/WHEEL": 0o644,
            "\(sp)/demo-1.0.dist-info/entry_points.txt": 0o644, "\(sp)/demo-1.0.dist-info/RECORD": 0o644,
            "\(sp)/demo-1.0.dist-info/INSTALLER": 0o644,
        ]
        #expect(installed.files == modes.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for (path, mode) in modes {
            var info = stat()
            try #require(lstat("\(tree)/\(path)", &info) == 0, "\(path) is missing")
            #expect(info.st_mode & S_IFMT == S_IFREG, "\(path) is not a regular file")
            #expect(Int(info.st_mode & 0o7777) == mode, "\(path): mode \(String(info.st_mode & 0o7777, radix: 8))")
        }
        #expect(try String(contentsOfFile: "\(tree)/opt/venv/bin/demo-hello", encoding: .utf8) == "#!/opt/venv/bin/python3.11\nprint(\"hello\")\n")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: "\(tree)/\(sp)/demo/empty", isDirectory: &isDirectory) == (backend == .permissionsOnly))
        #expect(isDirectory.boolValue == (backend == .permissionsOnly))
    }
}
