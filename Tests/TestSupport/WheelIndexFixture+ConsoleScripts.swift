import Foundation

extension WheelIndexFixture {
    /// Gives one of the index's wheels a `console_scripts` entry point: `script = DIST:main`,
    /// with `main()` added to its `DIST/__init__.py`, printing `text`. The wheel is written
    /// again (same fixed timestamps, `RECORD` made again) and its index page links the new
    /// SHA-256, so the result is as deterministic as the wheel it replaces. With
    /// `withArguments`, `main()` prints its command-line arguments after `text` (a stand-in
    /// for a program whose arguments a test checks, such as `jupyter`).
    public func addConsoleScript(_ script: String, printing text: String, to wheel: Wheel, withArguments: Bool = false) throws {
        guard wheels.contains(wheel) else { throw FixtureError(message: "the index has no \(wheel.fileName)") }
        let spec: [String: Any] = [
            "wheel": "files/\(wheel.fileName)", "dist": wheel.distribution, "version": wheel.version, "script": script, "text": text,
            "arguments": withArguments,
            "page": "simple/\(wheel.name.lowercased().replacing(/[-_.]+/, with: "-"))/index.html",
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
        try writeFile("\(root)/add_console_script.py", Self.consoleScriptTool)
        defer { try? FileManager.default.removeItem(atPath: "\(root)/add_console_script.py") }
        try FixtureError.check(run("python3", ["add_console_script.py", json], directory: root))
    }

    /// Rewrites a wheel with the entry point and `main()`, then the digest on its index page.
    static let consoleScriptTool = #"""
        import base64, hashlib, json, sys, zipfile

        def record_hash(data):
            return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

        spec = json.loads(sys.argv[1])
        dist, version = spec["dist"], spec["version"]
        info = f"{dist}-{version}.dist-info"
        with open(spec["wheel"], "rb") as f:
            old_digest = hashlib.sha256(f.read()).hexdigest()
        with zipfile.ZipFile(spec["wheel"]) as z:
            files = {name: z.read(name) for name in z.namelist() if name != f"{info}/RECORD"}
        if spec["arguments"]:
            main = f"\n\ndef main():\n    import sys\n    print({spec['text']!r}, *sys.argv[1:])\n"
        else:
            main = f"\n\ndef main():\n    print({spec['text']!r})\n"
        files[f"{dist}/__init__.py"] += main.encode()
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{spec['script']} = {dist}:main\n".encode()
        record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
        files[f"{info}/RECORD"] = record.encode()
        with zipfile.ZipFile(spec["wheel"], "w", zipfile.ZIP_DEFLATED) as z:
            for path, data in files.items():
                z.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
        with open(spec["wheel"], "rb") as f:
            new_digest = hashlib.sha256(f.read()).hexdigest()
        with open(spec["page"]) as f:
            page = f.read()
        if old_digest not in page:
            sys.exit(f"{spec['page']} does not link {spec['wheel']} by its digest")
        with open(spec["page"], "w") as f:
            f.write(page.replace(old_digest, new_digest))
        """#
}

extension WheelIndexFixture {
    /// Adds a wheel file made elsewhere (Debian's `pip` wheel, say) to the index as project
    /// `project`: copied into `files/` and linked, with its SHA-256, from its page.
    public func addWheelFile(_ path: String, project: String) throws {
        let name = URL(fileURLWithPath: path).lastPathComponent
        try FileManager.default.copyItem(atPath: path, toPath: "\(root)/files/\(name)")
        let digest = try expected(name).sha256.replacingOccurrences(of: "sha256:", with: "")
        try writeFile(
            "\(root)/simple/\(project)/index.html",
            "<!DOCTYPE html><html><body>\n<a href=\"../../files/\(name)#sha256=\(digest)\">\(name)</a><br>\n</body></html>\n")
        let index = "\(root)/simple/index.html"
        let page = try String(contentsOfFile: index, encoding: .utf8)
        try writeFile(index, page.replacingOccurrences(of: "</body>", with: "<a href=\"\(project)/\">\(project)</a><br>\n</body>"))
    }
}
