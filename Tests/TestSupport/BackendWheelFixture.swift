import Foundation

/// Small wheels whose zip entries carry the external attributes that each build back end writes
/// (PKWARE APPNOTE 4.4.15: on a Unix host, `st_mode` in the high 16 bits), made by Python's
/// `zipfile` the way those back ends call it:
///
/// - hatchling: files from the source tree `normalize_file_permissions(st_mode) << 16` (type
///   bits kept), the files it generates (`METADATA`, `WHEEL`, `RECORD`, `entry_points.txt`)
///   `set_zip_info_mode(zip_info)`, that is `0o644 << 16`: permission bits, no file-type bits;
/// - setuptools (the `wheel` package's `WheelFile`): `(st_mode & 0xFFFF) << 16` for source files,
///   `(0o664 | S_IFREG) << 16` for generated ones — type bits everywhere;
/// - flit (flit_core): source files `normalize_file_permissions(st_mode) << 16`, generated files
///   `_write_to_zip(rel_path, mode=0o644)`, i.e. `0o644 << 16`;
/// - permission bits alone on every member, an executable (`0o755`), a script and a directory
///   (`demo/empty/`, `0o755`) included, as some zip tools write them.
///
/// Every wheel holds `demo/__init__.py`, `demo/data.txt` (deflated, 40 KiB), the executable
/// `demo/run.sh`, the script `demo-1.0.data/scripts/demo-hello` and the `.dist-info` files; each
/// has a correct `RECORD`.
public enum BackendWheelFixture: String, CaseIterable, Sendable, CustomStringConvertible {
    case hatchling, setuptools, flit, permissionsOnly = "permissions-only"

    public var description: String { rawValue }

    /// The Python program; argv: the back end's name, the wheel's path.
    static let script = #"""
        import base64, hashlib, stat, sys, zipfile
        backend, path = sys.argv[1], sys.argv[2]
        REG, DIR = stat.S_IFREG, stat.S_IFDIR
        def normalize(st_mode):  # hatchling's and flit's normalize_file_permissions
            new = (st_mode | 0o644) & ~0o133
            if st_mode & 0o100: new |= 0o111
            return new
        source_attr = {  # what a file from the source tree gets, by its stat mode
            'hatchling': lambda m: normalize(m) << 16,
            'setuptools': lambda m: (m & 0xFFFF) << 16,
            'flit': lambda m: normalize(m) << 16,
            'permissions-only': lambda m: (m & 0o7777) << 16,
        }[backend]
        generated_attr = {  # what a file the back end writes itself gets
            'hatchling': 0o644 << 16, 'setuptools': (0o664 | REG) << 16, 'flit': 0o644 << 16, 'permissions-only': 0o644 << 16,
        }[backend]
        text = ''.join('line %05d of the demo data, the same on every run\n' % i for i in range(800)).encode()
        sources = [
            ('demo/__init__.py', b'VALUE = 42\n', REG | 0o664),
            ('demo/data.txt', text, REG | 0o644),
            ('demo/run.sh', b'#!/bin/sh\necho run\n', REG | 0o775),
            ('demo-1.0.data/scripts/demo-hello', b'#!python\nprint("hello")\n', REG | 0o755),
        ]
        generated = [
            ('demo-1.0.dist-info/METADATA', b'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n'),
            ('demo-1.0.dist-info/WHEEL', ('Wheel-Version: 1.0\nGenerator: %s\nRoot-Is-Purelib: true\nTag: py3-none-any\n' % backend).encode()),
            ('demo-1.0.dist-info/entry_points.txt', b'[console_scripts]\ndemo-cli = demo:VALUE\n'),
        ]
        records = []
        def add(z, name, data, attr):
            info = zipfile.ZipInfo(name, date_time=(2020, 2, 2, 0, 0, 0))
            info.create_system = 3
            info.external_attr = attr
            info.compress_type = zipfile.ZIP_STORED if name.endswith('/') else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            if not name.endswith('/'):
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
                records.append('%s,sha256=%s,%d' % (name, digest, len(data)))
            else:
                records.append('%s,,' % name)
        with zipfile.ZipFile(path, 'w') as z:
            for name, data, mode in sources:
                add(z, name, data, source_attr(mode))
            if backend == 'permissions-only':
                add(z, 'demo/empty/', b'', 0o755 << 16)
            for name, data in generated:
                add(z, name, data, generated_attr)
            records.append('demo-1.0.dist-info/RECORD,,')
            add(z, 'demo-1.0.dist-info/RECORD', ('\n'.join(records) + '\n').encode(), generated_attr)
        """#

    /// The regular files every fixture holds, with the permission bits `unzip` gives them.
    public var files: [String: UInt32] {
        let executable: UInt32 = self == .setuptools || self == .permissionsOnly ? 0o775 : 0o755
        return [
            "demo/__init__.py": self == .setuptools || self == .permissionsOnly ? 0o664 : 0o644,
            "demo/data.txt": 0o644,
            "demo/run.sh": executable,
            "demo-1.0.data/scripts/demo-hello": 0o755,
            "demo-1.0.dist-info/METADATA": self == .setuptools ? 0o664 : 0o644,
            "demo-1.0.dist-info/WHEEL": self == .setuptools ? 0o664 : 0o644,
            "demo-1.0.dist-info/entry_points.txt": self == .setuptools ? 0o664 : 0o644,
            "demo-1.0.dist-info/RECORD": self == .setuptools ? 0o664 : 0o644,
        ]
    }

    /// Writes the wheel into `directory` under its own name (`demo-1.0-py3-none-any.whl` in a
    /// folder named after the back end) and returns its path.
    public func make(in directory: String) throws -> String {
        let folder = "\(directory)/\(rawValue)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeFile("\(folder)/make-wheel.py", Self.script)
        let path = "\(folder)/demo-1.0-py3-none-any.whl"
        let result = try run("python3", ["\(folder)/make-wheel.py", rawValue, path])
        guard result.status == 0 else { throw FixtureError(message: "\(rawValue) wheel fixture: \(result.stderr)") }
        return path
    }
}
