import Foundation
import TestSupport

/// A PEP 503 simple index made by the test: tiny `py3-none-any` wheels under `files/`, one
/// page per project under `simple/<normalised name>/` linking `../../files/FILE#sha256=…`.
///
/// - `imagegen-fixture-app` 1.0: requires `Imagegen.Fixture_Lib>=1.0`, and
///   `imagegen-fixture-extra` only for the `cli` extra
/// - `Imagegen.Fixture_Lib` 0.9, 1.0 and 2.0 (a name that sorts differently before and after
///   normalisation)
/// - `imagegen-fixture-extra` 1.0
struct WheelIndexFixture {
    static let appRequires = ["Imagegen.Fixture_Lib>=1.0", #"imagegen-fixture-extra; extra == "cli""#]

    /// The directory to serve.
    let root: String

    init(at root: String) throws {
        self.root = root
        let specs: [[String: Any]] = [
            ["dist": "imagegen_fixture_app", "name": "imagegen-fixture-app", "version": "1.0",
             "requires": Self.appRequires, "extras": ["cli"]],
            ["dist": "imagegen_fixture_lib", "name": "Imagegen.Fixture_Lib", "version": "0.9", "requires": [], "extras": []],
            ["dist": "imagegen_fixture_lib", "name": "Imagegen.Fixture_Lib", "version": "1.0", "requires": [], "extras": []],
            ["dist": "imagegen_fixture_lib", "name": "Imagegen.Fixture_Lib", "version": "2.0", "requires": [], "extras": []],
            ["dist": "imagegen_fixture_extra", "name": "imagegen-fixture-extra", "version": "1.0", "requires": [], "extras": []],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: specs), as: UTF8.self)
        try writeFile("\(root)/make_index.py", Self.script)
        let result = try run("python3", ["make_index.py", json], directory: root)
        guard result.status == 0 else { throw FixtureError(message: result.stderr) }
        try FileManager.default.removeItem(atPath: "\(root)/make_index.py")
    }

    /// The wheel's file name.
    static func fileName(_ dist: String, _ version: String) -> String { "\(dist)-\(version)-py3-none-any.whl" }

    /// `sha256sum`'s answer and the file's size.
    func expected(_ fileName: String) throws -> (sha256: String, size: Int64) {
        let out = try run("sha256sum", ["\(root)/files/\(fileName)"]).stdout
        let size = try FileManager.default.attributesOfItem(atPath: "\(root)/files/\(fileName)")[.size] as! NSNumber
        return ("sha256:\(out.prefix(64))", size.int64Value)
    }

    /// Writes the wheels (a zip with METADATA, WHEEL, RECORD, fixed timestamps) and the index.
    static let script = #"""
        import base64, hashlib, json, os, re, sys, zipfile

        def record_hash(data):
            return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

        projects = {}
        os.makedirs("files", exist_ok=True)
        for spec in json.loads(sys.argv[1]):
            dist, version = spec["dist"], spec["version"]
            info = f"{dist}-{version}.dist-info"
            metadata = f"Metadata-Version: 2.1\nName: {spec['name']}\nVersion: {version}\n"
            metadata += "".join(f"Provides-Extra: {e}\n" for e in spec["extras"])
            metadata += "".join(f"Requires-Dist: {r}\n" for r in spec["requires"])
            files = {
                f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
                f"{info}/METADATA": metadata.encode(),
                f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: imagegen-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            }
            record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
            files[f"{info}/RECORD"] = record.encode()
            name = f"{dist}-{version}-py3-none-any.whl"
            with zipfile.ZipFile(os.path.join("files", name), "w", zipfile.ZIP_DEFLATED) as z:
                for path, data in files.items():
                    z.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
            digest = hashlib.sha256(open(os.path.join("files", name), "rb").read()).hexdigest()
            project = re.sub(r"[-_.]+", "-", spec["name"]).lower()
            projects.setdefault(project, []).append(f'<a href="../../files/{name}#sha256={digest}">{name}</a><br>')

        for project, links in projects.items():
            os.makedirs(os.path.join("simple", project), exist_ok=True)
            with open(os.path.join("simple", project, "index.html"), "w") as f:
                f.write("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
        with open(os.path.join("simple", "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><body>\n")
            f.write("".join(f'<a href="{p}/">{p}</a><br>\n' for p in sorted(projects)))
            f.write("</body></html>\n")
        """#
}
