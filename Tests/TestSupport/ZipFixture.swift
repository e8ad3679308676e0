import Foundation

/// A zip made by Python's `zipfile`, as wheel build back ends make them, with what a layer that
/// reuses deflate streams must handle: members deflated at levels 1, 6 and 9 (large enough to
/// be carried as they are), small deflated files, a stored file, an incompressible deflated
/// file, an executable, an empty file, a directory member, implied directories and a symlink.
/// The contents are pseudo-random but fixed (seeded), so digests are stable.
public enum ZipFixture {
    /// The Python program that writes the zip to the path it is given.
    public static let script = #"""
        import random, sys, zipfile
        rng = random.Random(8)
        words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(rng.randint(2, 9))) for _ in range(400)]
        def text(n):
            out, size = [], 0
            while size < n:
                line = ' '.join(rng.choice(words) for _ in range(rng.randint(3, 12))) + '\n'
                out.append(line); size += len(line)
            return ''.join(out).encode()[:n]
        def member(z, name, data, level=None, method=zipfile.ZIP_DEFLATED, mode=0o644, kind=0o100000):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (kind | mode) << 16
            info.compress_type = method
            z.writestr(info, data, compress_type=method, compresslevel=level)
        with zipfile.ZipFile(sys.argv[1], 'w') as z:
            member(z, 'pkg/__init__.py', b'from .core import *\n')
            member(z, 'pkg/core.py', text(3000))
            member(z, 'pkg/level1.txt', text(300000), level=1)
            member(z, 'pkg/level6.txt', text(250000), level=6)
            member(z, 'pkg/level9.txt', text(200000), level=9)
            member(z, 'pkg/stored.txt', text(120000), method=zipfile.ZIP_STORED)
            member(z, 'pkg/noise.bin', bytes(rng.getrandbits(8) for _ in range(90000)), level=6)
            member(z, 'pkg/tool.sh', b'#!/bin/sh\n' + text(80000), mode=0o755)
            member(z, 'pkg/empty.txt', b'')
            member(z, 'pkg/sub/', b'', method=zipfile.ZIP_STORED, mode=0o755, kind=0o040000)
            member(z, 'pkg/sub/deep/data.csv', text(90000), level=6)
            member(z, 'pkg/link.txt', b'level6.txt', method=zipfile.ZIP_STORED, mode=0o777, kind=0o120000)
            member(z, 'pkg-1.0.dist-info/METADATA', b'Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n')
        """#

    /// Writes the zip to `path` (the script beside it).
    public static func make(at path: String) throws {
        let script = path + ".py"
        try writeFile(script, Self.script)
        let result = try run("python3", [script, path])
        guard result.status == 0 else { throw FixtureError(message: "zip fixture: \(result.stderr)") }
    }

    /// Reads the zip with Python's `zipfile` and returns a listing: "path size sha256" per regular file, sorted.
    public static func listing(of path: String) throws -> String {
        let code = """
            import hashlib, sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            rows = []
            for i in z.infolist():
                kind = (i.external_attr >> 16) & 0o170000
                if i.is_dir() or kind == 0o120000: continue
                data = z.read(i)
                rows.append('%s %d %s' % (i.filename, len(data), hashlib.sha256(data).hexdigest()))
            print('\\n'.join(sorted(rows)))
            """
        let result = try run("python3", ["-c", code, path])
        guard result.status == 0 else { throw FixtureError(message: "zip listing: \(result.stderr)") }
        return result.stdout
    }

    /// The same listing for the regular files of a directory tree.
    public static func listing(ofTree root: String) throws -> String {
        let code = """
            import hashlib, os, sys
            rows = []
            for d, _, files in os.walk(sys.argv[1]):
                for f in files:
                    p = os.path.join(d, f)
                    if os.path.islink(p): continue
                    data = open(p, 'rb').read()
                    rows.append('%s %d %s' % (os.path.relpath(p, sys.argv[1]), len(data), hashlib.sha256(data).hexdigest()))
            print('\\n'.join(sorted(rows)))
            """
        let result = try run("python3", ["-c", code, root])
        guard result.status == 0 else { throw FixtureError(message: "tree listing: \(result.stderr)") }
        return result.stdout
    }
}

/// Runs a Python program on a gzip file: how many members it holds, and whether the raw
/// deflate stream of the zip member `name` appears in it byte for byte. "MEMBERS FOUND".
public func gzipMembers(_ gzip: String, carrying name: String, of zip: String) throws -> (members: Int, carried: Bool) {
    let code = """
        import struct, sys, zipfile, zlib
        data = open(sys.argv[1], 'rb').read()
        members, rest = 0, data
        while rest:
            d = zlib.decompressobj(31); d.decompress(rest); rest = d.unused_data; members += 1
        z = zipfile.ZipFile(sys.argv[2]); info = z.getinfo(sys.argv[3])
        f = open(sys.argv[2], 'rb'); f.seek(info.header_offset); header = f.read(30)
        n, m = struct.unpack('<HH', header[26:30])
        f.seek(info.header_offset + 30 + n + m); raw = f.read(info.compress_size)
        print(members, raw in data)
        """
    let result = try run("python3", ["-c", code, gzip, zip, name])
    let parts = result.stdout.split(separator: " ")
    guard result.status == 0, parts.count == 2, let members = Int(parts[0]) else {
        throw FixtureError(message: "gzip members: \(result.stderr)")
    }
    return (members, parts[1].hasPrefix("True"))
}
