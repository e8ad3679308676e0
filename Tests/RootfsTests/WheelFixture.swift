import Foundation
import TestSupport

/// A wheel made by the test with Python's `zipfile`, as build back ends make them: members
/// with unix modes in their external attributes, a `.dist-info` with `METADATA`, `WHEEL`,
/// optional `entry_points.txt`, and a `RECORD` with correct hashes (unless told otherwise).
struct WheelFixture {
    /// One member of the zip.
    struct Member {
        var name: String
        var bytes: [UInt8]
        var mode: Int = 0o644
        /// A symlink member: `bytes` is its target.
        var symlink = false

        init(_ name: String, _ text: String, mode: Int = 0o644, symlink: Bool = false) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.mode = mode
            self.symlink = symlink
        }
    }

    /// `METADATA`'s Name.
    var name: String
    var version: String
    var members: [Member]
    var entryPoints: String?
    var rootIsPurelib = true
    var tag = "py3-none-any"
    /// Members whose RECORD hash is made wrong.
    var tamper: Set<String> = []

    /// `name_with_underscores-VERSION`, the prefix of `.dist-info` and `.data`.
    var stem: String { "\(name.lowercased().replacing(/[-_.]+/, with: "_"))-\(version)" }
    var fileName: String { "\(stem)-\(tag).whl" }

    /// Writes the wheel into `directory` and returns its path.
    func make(in directory: String) throws -> String {
        var all = members
        let info = "\(stem).dist-info"
        // The body after the blank line is the description: its "Name:" must not count.
        let metadata = "Metadata-Version: 2.1\nName: \(name)\nVersion: \(version)\nSummary: a test fixture\n\nBody.\nName: not-this\n"
        all.append(Member("\(info)/METADATA", metadata))
        let wheel = "Wheel-Version: 1.0\nGenerator: imagegen-tests\nRoot-Is-Purelib: \(rootIsPurelib)\nTag: \(tag)\n"
        all.append(Member("\(info)/WHEEL", wheel))
        if let entryPoints { all.append(Member("\(info)/entry_points.txt", entryPoints)) }
        let spec: [[String: Any]] = all.map {
            ["name": $0.name, "data": Data($0.bytes).base64EncodedString(), "mode": $0.mode, "symlink": $0.symlink,
             "tamper": tamper.contains($0.name)]
        }
        let json = try JSONSerialization.data(
            withJSONObject: ["path": "\(directory)/\(fileName)", "record": "\(info)/RECORD", "members": spec])
        try writeFile("\(directory)/make_wheel.json", [UInt8](json))
        try writeFile("\(directory)/make_wheel.py", Self.script)
        let result = try run("python3", ["\(directory)/make_wheel.py", "\(directory)/make_wheel.json"])
        guard result.status == 0 else { throw FixtureError(message: "make_wheel.py: \(result.stderr)") }
        return "\(directory)/\(fileName)"
    }

    static let script = #"""
        import base64, csv, hashlib, io, json, stat, sys, zipfile

        def record_hash(data):
            return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

        spec = json.load(open(sys.argv[1]))
        rows = []
        with zipfile.ZipFile(spec["path"], "w", zipfile.ZIP_DEFLATED) as z:
            for m in spec["members"]:
                data = base64.b64decode(m["data"])
                info = zipfile.ZipInfo(m["name"], date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                is_dir = m["name"].endswith("/")
                kind = stat.S_IFDIR if is_dir else stat.S_IFLNK if m["symlink"] else stat.S_IFREG
                info.external_attr = (kind | m["mode"]) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
                if is_dir:
                    continue
                hashed = b"tampered" if m["tamper"] else data
                rows.append((m["name"], record_hash(hashed), len(data)))
            rows.append((spec["record"], "", ""))
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            info = zipfile.ZipInfo(spec["record"], date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            z.writestr(info, text.getvalue())
        """#
}
