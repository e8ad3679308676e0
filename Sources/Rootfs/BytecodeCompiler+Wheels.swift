import Glibc
import Layers
import OCI

extension BytecodeCompiler {
    /// Byte-compiles what pip compiles after installing `wheels` into the tree at `root`: every
    /// file a wheel installed whose name ends in `.py` (its modules, and a script or data file
    /// so named), the code recording the file's path in the image
    /// (`/opt/venv/lib/python3.11/site-packages/torch/__init__.py`). Each wheel's `RECORD` then
    /// lists its `.pyc` files as pip lists them: `torch/__pycache__/__init__.cpython-311.pyc,,`
    /// (no hash or size: they are not the wheel's files), rows in path order.
    ///
    /// A file whose bytes are a placeholder in the tree (`placeholders`, as
    /// ``WheelInstaller/install(wheel:into:placeholders:streams:)`` leaves them) is read from
    /// its wheel's deflate stream, checked against its `RECORD` SHA-256 as it is inflated.
    public func compileInstalled(_ wheels: [InstalledWheel], placeholders: [String: DeflatedSource], root: String, mtime: Int64) throws {
        var sources: [Source] = []
        for wheel in wheels {
            for file in wheel.files where file.hasSuffix(".py") {
                if let stream = placeholders[file] {
                    var st = stat()
                    guard lstat("\(root)/\(file)", &st) == 0 else {
                        throw RootfsError.io(path: "\(root)/\(file)", reason: "lstat: \(String(cString: strerror(errno)))")
                    }
                    sources.append(Source(path: file, content: .deflated(stream, size: Int64(st.st_size))))
                } else {
                    sources.append(Source(path: file, content: .file("\(root)/\(file)")))
                }
            }
        }
        let compiled = try compile(sources, into: root, mtime: mtime)
        for wheel in wheels {
            let pycs = wheel.files.compactMap { compiled[$0] }
            guard !pycs.isEmpty else { continue }
            try Self.addToRecord(pycs, wheel: wheel, root: root)
        }
    }

    /// Adds `pycs` (tree paths) to the wheel's `RECORD` as pip does: hashless rows, all rows in
    /// path order (as ``WheelRecord/rendered()`` writes them, and pip).
    static func addToRecord(_ pycs: [String], wheel: InstalledWheel, root: String) throws {
        let path = "\(root)/\(wheel.distInfo)/RECORD"
        var record = try WheelRecord(parsing: FileReader.readAll(path: path, limit: WheelInstaller.metadataLimit), wheel: "\(wheel.distInfo)/RECORD")
        let sitePackages = String(wheel.distInfo[..<(wheel.distInfo.lastIndex(of: "/") ?? wheel.distInfo.startIndex)])
        record.rows += pycs.map { WheelRecord.Row(path: relative($0, to: sitePackages), hash: "", size: "") }
        try AtomicFileWriter.write(record.rendered(), to: path)
    }

    /// A tree path as `RECORD` writes it: relative to site-packages (`../../../bin/x` outside it).
    static func relative(_ path: String, to sitePackages: String) -> String {
        let base = sitePackages.split(separator: "/")
        let parts = path.split(separator: "/")
        var common = 0
        while common < base.count, common < parts.count - 1, base[common] == parts[common] { common += 1 }
        return (Array(repeating: "..", count: base.count - common) + parts[common...].map(String.init)).joined(separator: "/")
    }
}
