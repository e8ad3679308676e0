import Foundation

/// A PEP 503 simple index made by the test: tiny `py3-none-any` wheels under `files/`, one
/// page per project under `simple/<normalised name>/` linking `../../files/FILE#sha256=…`.
///
/// Each wheel holds `DIST/__init__.py` and a `.dist-info` with `METADATA` (name, version,
/// `Provides-Extra`, `Requires-Dist`), `WHEEL` and `RECORD`, all dated 1980-01-01.
public struct WheelIndexFixture: Sendable {
    /// One wheel to build.
    public struct Wheel: Hashable, Sendable {
        /// The distribution's name as its `METADATA` spells it (`Imagegen.Fixture_Lib`).
        public var name: String
        /// The version.
        public var version: String
        /// `Requires-Dist` lines, written as given.
        public var requiresDist: [String]
        /// `Provides-Extra` names.
        public var extras: [String]

        /// A wheel to build.
        public init(name: String, version: String, requiresDist: [String] = [], extras: [String] = []) {
            self.name = name
            self.version = version
            self.requiresDist = requiresDist
            self.extras = extras
        }

        /// The name as wheel file names spell it: runs of `-`, `_` and `.` become one `_`,
        /// lower case (the binary distribution format's escaping).
        public var distribution: String {
            name.lowercased().replacing(/[-_.]+/, with: "_")
        }

        /// `DIST-VERSION-py3-none-any.whl`.
        public var fileName: String { "\(distribution)-\(version)-py3-none-any.whl" }
    }

    /// `imagegen-fixture-app`'s `Requires-Dist` lines.
    public static let appRequires = ["Imagegen.Fixture_Lib>=1.0", #"imagegen-fixture-extra; extra == "cli""#]

    /// The wheels the Artifacts tests resolve:
    ///
    /// - `imagegen-fixture-app` 1.0: requires `Imagegen.Fixture_Lib>=1.0`, and
    ///   `imagegen-fixture-extra` only for the `cli` extra
    /// - `Imagegen.Fixture_Lib` 0.9, 1.0 and 2.0 (a name that sorts differently before and after
    ///   normalisation)
    /// - `imagegen-fixture-extra` 1.0
    public static let defaultWheels: [Wheel] = [
        Wheel(name: "imagegen-fixture-app", version: "1.0", requiresDist: appRequires, extras: ["cli"]),
        Wheel(name: "Imagegen.Fixture_Lib", version: "0.9"),
        Wheel(name: "Imagegen.Fixture_Lib", version: "1.0"),
        Wheel(name: "Imagegen.Fixture_Lib", version: "2.0"),
        Wheel(name: "imagegen-fixture-extra", version: "1.0"),
    ]

    /// The directory to serve; the index is `simple/` under it.
    public let root: String
    /// The wheels it holds.
    public let wheels: [Wheel]

    /// Builds `wheels` and the index under `root`.
    public init(at root: String, wheels: [Wheel] = Self.defaultWheels) throws {
        self.root = root
        self.wheels = wheels
        let specs: [[String: Any]] = wheels.map {
            ["dist": $0.distribution, "name": $0.name, "version": $0.version, "requires": $0.requiresDist, "extras": $0.extras]
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: specs), as: UTF8.self)
        try writeFile("\(root)/make_index.py", Self.script)
        try FixtureError.check(run("python3", ["make_index.py", json], directory: root))
        try FileManager.default.removeItem(atPath: "\(root)/make_index.py")
    }

    /// `sha256sum`'s answer (`sha256:…`) and the file's size, for a wheel's file name.
    public func expected(_ fileName: String) throws -> (sha256: String, size: Int64) {
        try sha256sum("\(root)/files/\(fileName)")
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
