import Foundation
import Rootfs
import TestSupport
import Testing

import Glibc

// MARK: Fixtures

/// A tiny package built with `dpkg-deb --build` from a tree the test fills.
private struct FixtureDeb: Sendable {
    var name: String
    var version = "1.0"
    var architecture = "all"
    var control: [String] = []
    /// Absolute paths listed in `DEBIAN/conffiles`.
    var conffiles: [String] = []
    /// `-Zgzip`, `-Zxz`, `-Zzstd`.
    var compression = "xz"
    /// Fills the package's tree (its root is the argument).
    var files: @Sendable (String) throws -> Void = { _ in }

    /// Builds the package into `directory`; returns the `.deb`'s path. Owners are the tree's
    /// own (no `--root-owner-group`), so a test can give a file a numeric owner.
    func build(in directory: String) throws -> String {
        let tree = "\(directory)/build-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try files(tree)
        let control = ([
            "Package: \(name)", "Version: \(version)", "Architecture: \(architecture)",
            "Maintainer: imagegen tests <tests@imagegen.invalid>", "Installed-Size: 1",
        ] + self.control + ["Description: \(name) for imagegen's tests", " A second description line.", ""]).joined(separator: "\n")
        try writeFile("\(tree)/DEBIAN/control", control)
        if !conffiles.isEmpty { try writeFile("\(tree)/DEBIAN/conffiles", conffiles.map { $0 + "\n" }.joined()) }
        // md5sums as dh_md5sums writes them: every regular file but the conffiles.
        let listed = try check(run("find", [".", "-path", "./DEBIAN", "-prune", "-o", "-type", "f", "-printf", "%P\\n"], directory: tree))
        let hashed = listed.split(separator: "\n").map(String.init).filter { !conffiles.contains("/" + $0) }.sorted()
        if !hashed.isEmpty {
            try writeFile("\(tree)/DEBIAN/md5sums", try check(run("md5sum", hashed, directory: tree)))
        }
        try setDirectoryModes(tree)
        let deb = "\(directory)/\(name)_\(version)_\(architecture).deb"
        try check(run("dpkg-deb", ["-Z\(compression)", "--build", tree, deb]))
        try FileManager.default.removeItem(atPath: tree)
        return deb
    }
}

/// Directories get 0755 whatever the umask.
private func setDirectoryModes(_ tree: String) throws {
    try check(run("find", [tree, "-type", "d", "-exec", "chmod", "0755", "{}", "+"]))
}

/// A tool's standard output; its standard error as the failure otherwise.
@discardableResult
private func check(_ result: ProcessResult) throws -> String {
    guard result.status == 0 else { throw FixtureError(message: result.stderr + result.stdout) }
    return result.stdout
}

/// A `.deb` assembled by hand (python's tarfile and `ar`), for entries dpkg-deb would never
/// write. Each entry: `(name, type, target)` with type `file`, `dir`, `symlink`, `hardlink`, `chr`.
private func handmadeDeb(in directory: String, name: String, entries: [(String, String, String)]) throws -> String {
    let work = "\(directory)/hand-\(name)"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let spec = try JSONSerialization.data(withJSONObject: entries.map { [$0.0, $0.1, $0.2] })
    try spec.write(to: URL(fileURLWithPath: "\(work)/entries.json"))
    try writeFile("\(work)/control", "Package: \(name)\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t.invalid>\nDescription: bad\n")
    try writeFile("\(work)/debian-binary", "2.0\n")
    try writeFile("\(work)/make.py", """
        import io, json, tarfile
        def add(tar, name, kind, target=""):
            info = tarfile.TarInfo(name)
            info.mtime = 0
            data = b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, target
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, target
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            else:
                data = b"evil\\n"
                info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        with tarfile.open("control.tar.gz", "w:gz", format=tarfile.GNU_FORMAT) as tar:
            tar.add("control", arcname="./control")
        with tarfile.open("data.tar.xz", "w:xz", format=tarfile.GNU_FORMAT) as tar:
            for name, kind, target in json.load(open("entries.json")):
                add(tar, name, kind, target)
        """)
    try check(run("python3", ["make.py"], directory: work))
    let deb = "\(directory)/\(name).deb"
    try check(run("ar", ["rc", deb, "debian-binary", "control.tar.gz", "data.tar.xz"], directory: work))
    return deb
}

/// lstat, as a test expectation.
private func status(_ path: String) throws -> stat {
    var st = stat()
    guard lstat(path, &st) == 0 else { throw FixtureError(message: "\(path): \(String(cString: strerror(errno)))") }
    return st
}

private func isSymlink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
}

private func linkTarget(_ path: String) throws -> String {
    try FileManager.default.destinationOfSymbolicLink(atPath: path)
}

private func text(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Every path under `directory`, relative, sorted.
private func snapshot(_ directory: String) -> [String] {
    ((FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? []).sorted()
}

/// The main fixture: usr-merge paths, a setuid file, symlinks, a hard link, a conffile, a
/// numeric owner and a non-ASCII name.
private let helloDeb = FixtureDeb(
    name: "hello", architecture: "amd64", control: ["Depends: libhello1 (>= 1.0)", "Priority: optional"],
    conffiles: ["/etc/hello.conf"], compression: "xz"
) { tree in
    try writeFile("\(tree)/bin/hello", "#!/bin/sh\necho hello\n", mode: 0o755)
    try check(run("ln", ["\(tree)/bin/hello", "\(tree)/bin/hello-hard"]))
    try writeFile("\(tree)/usr/bin/hello-suid", "#!/bin/sh\n", mode: 0o4755)
    try FileManager.default.createSymbolicLink(atPath: "\(tree)/usr/bin/hello-link", withDestinationPath: "hello")
    try FileManager.default.createDirectory(atPath: "\(tree)/sbin", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: "\(tree)/sbin/hello-abs", withDestinationPath: "/bin/hello")
    try writeFile("\(tree)/etc/hello.conf", String(repeating: "greeting = hello\n", count: 70))
    try writeFile("\(tree)/usr/share/doc/hello/owned", "owned by 1234:42\n")
    try check(run("chown", ["1234:42", "\(tree)/usr/share/doc/hello/owned"]))
    try writeFile("\(tree)/usr/share/hello/naïve.txt", "utf-8\n")
}

/// A `Multi-Arch: same` library, half of it under lib/ (usr-merge).
private let libDeb = FixtureDeb(name: "libhello1", architecture: "amd64", control: ["Multi-Arch: same"], compression: "zstd") { tree in
    try writeFile("\(tree)/usr/lib/x86_64-linux-gnu/libhello.so.1.0", "not really ELF\n")
    try FileManager.default.createSymbolicLink(
        atPath: "\(tree)/usr/lib/x86_64-linux-gnu/libhello.so.1", withDestinationPath: "libhello.so.1.0")
    try writeFile("\(tree)/lib/x86_64-linux-gnu/libhello-early.so.1", "early\n")
}

/// What base-passwd, base-files and tzdata ship that the base fixups use (a subset), and
/// base-files' var/run and var/lock directories.
private let baseDeb = FixtureDeb(name: "base-files", compression: "gzip") { tree in
    try writeFile("\(tree)/usr/share/base-passwd/passwd.master", """
        root:*:0:0:root:/root:/bin/bash
        daemon:*:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        _apt:*:42:65534::/nonexistent:/usr/sbin/nologin
        nobody:*:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

        """)
    try writeFile("\(tree)/usr/share/base-passwd/group.master", "root:*:0:\ndaemon:*:1:\nshadow:*:42:\nnogroup:*:65534:\n")
    for name in ["profile", "dot.profile", "dot.bashrc", "motd", "info.dir"] {
        try writeFile("\(tree)/usr/share/base-files/\(name)", "# \(name)\n")
    }
    try writeFile("\(tree)/etc/dpkg/origins/debian", "Vendor: Debian\n")
    try writeFile("\(tree)/usr/share/zoneinfo/Etc/UTC", "TZif2\n")
    for directory in ["usr/share/info", "var/lock", "var/log", "root"] {
        try FileManager.default.createDirectory(atPath: "\(tree)/\(directory)", withIntermediateDirectories: true)
    }
    try writeFile("\(tree)/var/run/marker", "in /run\n")
}

private func caDeb(withConf: Bool) -> FixtureDeb {
    FixtureDeb(name: "ca-certificates", compression: "gzip") { tree in
        let store = "\(tree)/usr/share/ca-certificates"
        try writeFile("\(store)/mozilla/B_Root (2020), Inc.crt", "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n")
        try writeFile("\(store)/mozilla/A_Root.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")  // no final newline
        try writeFile("\(store)/mozilla/C_Root.crt", "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n")
        try writeFile("\(store)/local/Z_Root.crt", "-----BEGIN CERTIFICATE-----\nZZZZ\n-----END CERTIFICATE-----\n")
        try FileManager.default.createDirectory(atPath: "\(tree)/etc/ssl/certs", withIntermediateDirectories: true)
        if withConf {
            try writeFile("\(tree)/etc/ca-certificates.conf", """
                # comment
                mozilla/C_Root.crt
                !mozilla/A_Root.crt
                mozilla/B_Root (2020), Inc.crt

                local/Z_Root.crt

                """)
        }
    }
}

/// A compiler and an SSH server, for the tools fixups.
private let toolsDeb = FixtureDeb(name: "tools", architecture: "amd64", compression: "xz") { tree in
    try writeFile("\(tree)/usr/bin/gcc-12", "#!/bin/sh\n", mode: 0o755)
    try writeFile("\(tree)/usr/bin/g++-12", "#!/bin/sh\n", mode: 0o755)
    try writeFile("\(tree)/usr/bin/cpp-12", "#!/bin/sh\n", mode: 0o755)
    for (link, target) in [("gcc", "gcc-12"), ("g++", "g++-12"), ("cpp", "cpp-12")] {
        try FileManager.default.createSymbolicLink(atPath: "\(tree)/usr/bin/\(link)", withDestinationPath: target)
    }
    try writeFile("\(tree)/usr/sbin/sshd", "#!/bin/sh\n", mode: 0o755)
    try writeFile("\(tree)/usr/share/openssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n")
    try writeFile("\(tree)/etc/ssh/ssh_host_ed25519_key", "secret\n", mode: 0o600)
    try writeFile("\(tree)/etc/ssh/ssh_host_ed25519_key.pub", "public\n")
    try writeFile("\(tree)/etc/ssh/moduli", "moduli\n")
    // The alternatives of bookworm's gcc, g++ and cpp postinsts (c89-gcc is not shipped here).
    try writeFile(
        "\(tree)/DEBIAN/postinst",
        """
        #!/bin/sh
        set -e
        update-alternatives --quiet \\
            --install /usr/bin/cc cc /usr/bin/gcc 20 \\
            #--slave /usr/share/man/man1/cc.1.gz cc.1.gz /usr/share/man/man1/gcc.1.gz

        update-alternatives \\
            --install /usr/bin/c++ c++ /usr/bin/g++ 20 \\
            #--slave /usr/share/man/man1/c++.1.gz c++.1.gz /usr/share/man/man1/g++.1.gz
        update-alternatives --quiet \\
            --install /usr/bin/c89 c89 /usr/bin/c89-gcc 20 \\
            --slave /usr/share/man/man1/c89.1.gz c89.1.gz /usr/share/man/man1/c89-gcc.1.gz
        if [ "$1" != upgrade ]; then
            update-alternatives --quiet --install /lib/cpp cpp /usr/bin/cpp 10
        fi

        """, mode: 0o755)
}

// MARK: Tests

@Suite("Debian packages into component trees")
struct DebTests {
    @Test("a component is unpacked with merged /usr, modes, owners, links and a dpkg database dpkg itself reads")
    func unpackComponent() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let debs = [try helloDeb.build(in: scratch.path), try libDeb.build(in: scratch.path)]

        let packages = try DebLayerBuilder(root: root).build(debs: debs)
        #expect(packages.map(\.name) == ["hello", "libhello1"])
        #expect(packages.map(\.version) == ["1.0", "1.0"])
        #expect(packages.map(\.architecture) == ["amd64", "amd64"])
        #expect(packages[1].infoName == "libhello1:amd64")
        #expect(packages[0].control.hasPrefix("Package: hello\nVersion: 1.0\n"))
        #expect(packages[0].control.hasSuffix(" A second description line."))

        // Merged /usr: nothing at the top level but usr, etc, var.
        #expect(snapshot(root).filter { !$0.contains("/") } == ["etc", "usr", "var"])
        #expect(FileManager.default.fileExists(atPath: "\(root)/usr/bin/hello"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/usr/lib/x86_64-linux-gnu/libhello-early.so.1"))

        // Modes, owners, links.
        #expect(try status("\(root)/usr/bin/hello").st_mode & 0o7777 == 0o755)
        #expect(try status("\(root)/usr/bin/hello-suid").st_mode & 0o7777 == 0o4755)
        let owned = try status("\(root)/usr/share/doc/hello/owned")
        #expect(owned.st_uid == 1234 && owned.st_gid == 42)
        #expect(try linkTarget("\(root)/usr/bin/hello-link") == "hello")
        #expect(try linkTarget("\(root)/usr/sbin/hello-abs") == "/bin/hello")
        #expect(try linkTarget("\(root)/usr/lib/x86_64-linux-gnu/libhello.so.1") == "libhello.so.1.0")
        let hello = try status("\(root)/usr/bin/hello")
        let hard = try status("\(root)/usr/bin/hello-hard")
        #expect(hello.st_ino == hard.st_ino && hello.st_nlink == 2)
        #expect(try text("\(root)/usr/share/hello/naïve.txt") == "utf-8\n")
        #expect(try status("\(root)/usr/bin").st_mode & 0o7777 == 0o755)

        // The dpkg database: lists with the archive's own paths, md5sums, conffiles.
        let info = "\(root)/var/lib/dpkg/info"
        let list = try text("\(info)/hello.list").split(separator: "\n")
        #expect(list.first == "/.")
        #expect(list.contains("/bin/hello") && list.contains("/bin/hello-hard") && list.contains("/sbin/hello-abs"))
        #expect(list.contains("/usr/bin/hello-suid") && list.contains("/etc/hello.conf") && list.contains("/usr"))
        #expect(!list.contains { $0.hasSuffix("/") && $0 != "/" })
        #expect(try text("\(info)/hello.md5sums").contains("  usr/bin/hello-suid\n"))
        #expect(try text("\(info)/hello.conffiles") == "/etc/hello.conf\n")
        #expect(try text("\(info)/libhello1:amd64.list").contains("/lib/x86_64-linux-gnu/libhello-early.so.1\n"))
        #expect(FileManager.default.fileExists(atPath: "\(info)/libhello1:amd64.md5sums"))

        // The status: both packages, sorted, installed; the conffile's MD5 as md5sum computes it.
        let statusFile = try text("\(root)/var/lib/dpkg/status")
        let paragraphs = statusFile.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(paragraphs.count == 2)
        // dpkg's field order: Status, then Installed-Size, Maintainer, Architecture, …, Version.
        #expect(paragraphs[0].hasPrefix("Package: hello\nStatus: install ok installed\nPriority: optional\nInstalled-Size: 1\nMaintainer: "))
        #expect(paragraphs[0].contains("\nArchitecture: amd64\nVersion: 1.0\nDepends: libhello1 (>= 1.0)\nConffiles:\n"))
        #expect(paragraphs[1].hasPrefix("Package: libhello1\nStatus: install ok installed\n"))
        let md5 = String(try check(run("md5sum", ["\(root)/etc/hello.conf"])).prefix(32))
        #expect(paragraphs[0].contains("Conffiles:\n /etc/hello.conf \(md5)\nDescription: "))
        #expect(packages[0].conffiles == [DebPackage.Conffile(path: "/etc/hello.conf", md5: md5)])

        // dpkg's own reading of it.
        let admin = "--admindir=\(root)/var/lib/dpkg"
        let listed = try check(run("dpkg", [admin, "-l"]))
        let installed = listed.split(separator: "\n").filter { $0.hasPrefix("ii ") }.map { $0.split(separator: " ")[1] }
        #expect(installed == ["hello", "libhello1:amd64"])
        let shown = try check(run("dpkg", [admin, "-s", "hello"]))
        #expect(shown.contains("Status: install ok installed") && shown.contains("Depends: libhello1 (>= 1.0)"))
        #expect(shown.contains(" /etc/hello.conf \(md5)"))
        #expect(try check(run("dpkg", [admin, "-s", "libhello1:amd64"])).contains("Multi-Arch: same"))
        #expect(try check(run("dpkg-query", [admin, "-L", "hello"])).contains("/bin/hello\n"))
        let audit = try check(run("dpkg", [admin, "--audit"]))
        #expect(audit.isEmpty, "\(audit)")
        // With the merged-/usr links in place, every file matches its md5sums (the lists keep
        // the packages' own /bin paths, which the links resolve).
        try SystemFixups.applyBase(root: root)
        let verify = try check(run("dpkg", ["--root=\(root)", "--verify"]))
        #expect(verify.isEmpty, "\(verify)")
    }

    @Test("a higher layer's status lists its packages and every lower layer's")
    func statusAccumulates() throws {
        let scratch = try ScratchDirectory("debs")
        let lower = scratch("lower")
        let upper = scratch("upper")
        for root in [lower, upper] { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        let lowerDebs = [try libDeb.build(in: scratch.path), try baseDeb.build(in: scratch.path)]
        let hello = try helloDeb.build(in: scratch.path)
        let base = try DebLayerBuilder(root: lower).build(debs: lowerDebs)
        let top = try DebLayerBuilder(root: upper).build(debs: [hello], lowerPackages: base)
        #expect(top.map(\.name) == ["hello"])
        // Read without unpacking (a cached lower layer): the same records, conffile MD5s included.
        #expect(try (lowerDebs + [hello]).map { try DebPackage(readingControlOf: $0) } == base + top)
        #expect(top[0].conffiles.count == 1 && top[0].conffiles[0].md5 != "newconffile")

        let names = try text("\(upper)/var/lib/dpkg/status").split(separator: "\n").filter { $0.hasPrefix("Package: ") }
        #expect(names == ["Package: base-files", "Package: hello", "Package: libhello1"])
        #expect(try text("\(lower)/var/lib/dpkg/status").split(separator: "\n").filter { $0.hasPrefix("Package: ") }.count == 2)
        // Only this layer's info files are in this layer.
        #expect(snapshot("\(upper)/var/lib/dpkg/info") == ["format", "hello.conffiles", "hello.list", "hello.md5sums"])
        // Deterministic: the same inputs write the same status.
        let again = scratch("again")
        try FileManager.default.createDirectory(atPath: again, withIntermediateDirectories: true)
        try DebLayerBuilder(root: again).build(debs: [hello], lowerPackages: lowerDebs.map { try DebPackage(readingControlOf: $0) })
        #expect(try text("\(again)/var/lib/dpkg/status") == text("\(upper)/var/lib/dpkg/status"))
    }

    @Test(
        "unsafe entries are refused before anything is written",
        arguments: [
            ("absolute", [("./usr/", "dir", ""), ("/etc/evil", "file", "")], "/etc/evil", "absolute path"),
            ("dotdot", [("./usr/", "dir", ""), ("./usr/../../evil", "file", "")], "./usr/../../evil", "'..'"),
            ("symlink", [("./usr/", "dir", ""), ("./usr/lib/up", "symlink", "../../../outside")], "./usr/lib/up", "outside the root"),
            ("hardlink", [("./usr/a", "file", ""), ("./usr/b", "hardlink", "../etc/passwd")], "./usr/b", "outside the package"),
            ("device", [("./usr/", "dir", ""), ("./dev/null", "chr", "")], "./dev/null", "device node"),
        ] as [(String, [(String, String, String)], String, String)]
    )
    func refusals(_ name: String, _ entries: [(String, String, String)], _ entry: String, _ reason: String) throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("sub/root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let deb = try handmadeDeb(in: scratch("debs"), name: "bad-\(name)", entries: entries)
        let outside = snapshot(scratch.path)
        do {
            try DebUnpacker(root: root).unpack(deb)
            Issue.record("\(name): the package was unpacked")
        } catch let error as RootfsError {
            guard case .unsafeDebEntry(let reported, let reportedEntry, let why) = error else {
                Issue.record("\(name): unexpected error \(error)")
                return
            }
            #expect(reported == deb && reportedEntry == entry)
            #expect(why.contains(reason), "\(error)")
            #expect(error.description.contains(deb) && error.description.contains(entry))
        }
        #expect(snapshot(root).isEmpty)
        #expect(snapshot(scratch.path) == outside)
    }

    @Test("a path that would go through a symlink leading out of the tree is refused")
    func throughSymlink() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("sub/root")
        try FileManager.default.createDirectory(atPath: "\(root)/usr/share", withIntermediateDirectories: true)
        // Planted by hand: a package cannot ship it.
        try FileManager.default.createSymbolicLink(atPath: "\(root)/usr/share/up", withDestinationPath: "../../..")
        let deb = try handmadeDeb(in: scratch("debs"), name: "through", entries: [("./usr/share/up/evil", "file", "")])
        #expect {
            try DebUnpacker(root: root).unpack(deb)
        } throws: { error in
            guard case .unsafeDebEntry(_, "./usr/share/up/evil", let why) = error as? RootfsError else { return false }
            return why.contains("symlink")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch("sub/evil")) && !FileManager.default.fileExists(atPath: scratch("evil")))
        #expect(snapshot(root) == ["usr", "usr/share", "usr/share/up"])
    }

    @Test("an absolute symlink in the tree is followed inside the tree, and a directory over a symlink keeps it")
    func absoluteSymlinkStaysInside() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: "\(root)/usr/share/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/usr/share/alias", withDestinationPath: "/usr/share/real")
        let deb = try handmadeDeb(
            in: scratch("debs"), name: "follow", entries: [("./usr/share/alias/", "dir", ""), ("./usr/share/alias/file", "file", "")])
        try DebUnpacker(root: root).unpack(deb)
        #expect(isSymlink("\(root)/usr/share/alias"))
        #expect(try text("\(root)/usr/share/real/file") == "evil\n")
        #expect(!FileManager.default.fileExists(atPath: "/usr/share/real/file"))
    }

    /// A compressed data.tar is decompressed once into an unnamed temporary file and read
    /// twice from there; an uncompressed one is read in place.
    @Test("the same package with data.tar uncompressed, gzip, xz or zstd unpacks to the same tree and database")
    func everyCompression() throws {
        let scratch = try ScratchDirectory("debs")
        var listings: [String: String] = [:]
        for compression in ["none", "gzip", "xz", "zstd"] {
            var deb = helloDeb
            deb.compression = compression
            let root = scratch("root-\(compression)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try DebUnpacker(root: root).unpack(try deb.build(in: scratch("debs-\(compression)")))
            // Paths, kinds, modes, owners, sizes and contents (the database files included).
            listings[compression] = try check(run("sh", ["-c", "cd \"$1\" && find . -printf '%p %y %m %U:%G %s %l\\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum", "sh", root]))
        }
        #expect(listings["none"]?.contains("./usr/bin/hello") == true)
        #expect(Set(listings.values).count == 1, "\(listings)")
    }

    @Test("a file that is not a Debian package, or one cut short, is refused with a clear error")
    func notADeb() throws {
        let scratch = try ScratchDirectory("debs")
        try writeFile(scratch("fake.deb"), "just text\n")
        try FileManager.default.createDirectory(atPath: scratch("root"), withIntermediateDirectories: true)
        #expect {
            try DebUnpacker(root: scratch("root")).unpack(scratch("fake.deb"))
        } throws: { error in
            guard case .invalidDeb(let deb, let reason) = error as? RootfsError else { return false }
            return deb == scratch("fake.deb") && reason.contains("ar")
        }
        // A real package cut short.
        let whole = try Data(contentsOf: URL(fileURLWithPath: try helloDeb.build(in: scratch.path)))
        try whole.prefix(whole.count - 100).write(to: URL(fileURLWithPath: scratch("short.deb")))
        #expect {
            try DebUnpacker(root: scratch("root")).unpack(scratch("short.deb"))
        } throws: { error in
            guard case .invalidDeb(_, let reason) = error as? RootfsError else { return false }
            return reason.contains("truncated")
        }
        #expect(snapshot(scratch("root")).isEmpty)
    }

    @Test("unpacking reads a package's declared facts — source, DEP-5 licenses, none — exactly as PackageFacts(deb:) reads them")
    func factsWhileUnpacking() throws {
        let scratch = try ScratchDirectory("debs")
        /// A tool, and the package's copyright file when there is a text.
        func files(_ name: String, copyright: String?) -> @Sendable (String) throws -> Void {
            { tree in
                if let copyright { try writeFile("\(tree)/usr/share/doc/\(name)/copyright", copyright) }
                try writeFile("\(tree)/usr/bin/tool", "#!/bin/sh\n", mode: 0o755)
            }
        }
        let dep5 = "Format: copyright-format/1.0\nUpstream-Name: x\nLicense: MIT\n\nFiles: *\nCopyright: 2026 x\nLicense: Apache-2.0\n\nFiles: debian/*\nLicense: MIT\n"
        let debs = [
            FixtureDeb(name: "licensed", control: ["Source: bigsource (1.2-3)"], compression: "gzip", files: files("licensed", copyright: dep5)),
            FixtureDeb(name: "freeform", files: files("freeform", copyright: "This package was debianized by someone.\nLicense: GPL\n")),
            FixtureDeb(name: "undocumented", compression: "zstd", files: files("undocumented", copyright: nil)),
        ]
        var seen: [String: PackageFacts] = [:]
        for fixture in debs {
            let deb = try fixture.build(in: scratch.path)
            try FileManager.default.createDirectory(atPath: scratch("root-\(fixture.name)"), withIntermediateDirectories: true)
            let unpacked = try DebUnpacker(root: scratch("root-\(fixture.name)")).unpackReadingFacts(deb)
            #expect(unpacked.facts == (try PackageFacts(deb: deb)), "\(fixture.name)")
            seen[fixture.name] = unpacked.facts
        }
        #expect(seen["licensed"] == PackageFacts(sourcePackage: "bigsource", sourceVersion: "1.2-3", license: .debian(["MIT", "Apache-2.0"])))
        #expect(seen["freeform"]?.license == nil)
        #expect(seen["freeform"]?.sourcePackage == "freeform")
        #expect(seen["undocumented"]?.license == nil)
    }

    @Test("a data.tar.gz whose deflate data is damaged is refused naming the package and the member; nothing is written")
    func damagedGzipData() throws {
        let scratch = try ScratchDirectory("debs")
        var gzipped = helloDeb
        gzipped.compression = "gzip"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try gzipped.build(in: scratch.path))))
        // The data member starts 60 bytes after its ar header, which names it.
        let name = Array("data.tar.gz".utf8)
        let header = try #require((0...(bytes.count - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name })
        let start = header + 60
        for i in (start + 20)..<(start + 60) { bytes[i] ^= 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: scratch("damaged.deb")))
        try FileManager.default.createDirectory(atPath: scratch("root"), withIntermediateDirectories: true)
        #expect {
            try DebUnpacker(root: scratch("root")).unpack(scratch("damaged.deb"))
        } throws: { error in
            guard case .invalidDeb(let deb, let reason) = error as? RootfsError else { return false }
            return deb == scratch("damaged.deb") && reason.hasPrefix("data.tar.gz: gzip: ")
        }
        #expect(snapshot(scratch("root")).isEmpty)
    }

    /// zlib's gzread, and so dpkg, ignores bytes after the last gzip member that do not start
    /// another; a layer's decoder does not (LayerDecoderTests).
    @Test("a data.tar.gz followed by bytes that start no gzip member unpacks as dpkg unpacks it")
    func gzipDataWithTrailingBytes() throws {
        let scratch = try ScratchDirectory("debs")
        var gzipped = helloDeb
        gzipped.compression = "gzip"
        let deb = try gzipped.build(in: scratch.path)
        // The same package with 7 bytes after data.tar.gz's gzip stream, its ar size grown to match.
        let append = """
            import sys
            data = open(sys.argv[1], 'rb').read()
            out, at = bytearray(data[:8]), 8
            while at < len(data):
                header = bytearray(data[at:at + 60]); size = int(header[48:58]); body = data[at + 60:at + 60 + size]
                if header[:16].rstrip().rstrip(b'/') == b'data.tar.gz':
                    body += b'\\x00junk\\n\\x00'; header[48:58] = b'%-10d' % len(body)
                out += header + body + (b'\\n' if len(body) % 2 else b'')
                at += 60 + size + size % 2
            open(sys.argv[2], 'wb').write(out)
            """
        let made = try run("python3", ["-c", append, deb, scratch("trailing.deb")])
        try #require(made.status == 0, "\(made.stderr)")
        for (name, path) in [("plain", deb), ("trailing", scratch("trailing.deb"))] {
            try FileManager.default.createDirectory(atPath: scratch(name), withIntermediateDirectories: true)
            try DebUnpacker(root: scratch(name)).unpack(path)
        }
        #expect(!snapshot(scratch("plain")).isEmpty)
        #expect(snapshot(scratch("trailing")) == snapshot(scratch("plain")))
        let dpkg = try run("dpkg-deb", ["--fsys-tarfile", scratch("trailing.deb")])
        #expect(dpkg.status == 0, "dpkg-deb reads it too: \(dpkg.stderr)")
    }

    @Test("base fixups: merged /usr links, accounts from base-passwd's masters, the CA bundle in the conf's order")
    func baseFixups() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let debs = try [baseDeb, caDeb(withConf: true), libDeb].map { try $0.build(in: scratch.path) }
        try DebLayerBuilder(root: root).build(debs: debs)
        try SystemFixups.applyBase(root: root)

        for name in ["bin", "sbin", "lib", "lib64"] {
            #expect(try linkTarget("\(root)/\(name)") == "usr/\(name)")
            #expect(try status("\(root)/usr/\(name)").st_mode & S_IFMT == S_IFDIR)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/lib32"))
        // var/run and var/lock: unpacked into /run, then the links base-files' postinst makes.
        #expect(try linkTarget("\(root)/var/run") == "/run" && linkTarget("\(root)/var/lock") == "/run/lock")
        #expect(try text("\(root)/run/marker") == "in /run\n")
        #expect(try text("\(root)/var/lib/dpkg/info/base-files.list").contains("/var/run/marker\n"))
        #expect(try status("\(root)/run/lock").st_mode & 0o7777 == 0o1777)
        // base-files' postinst and tzdata's.
        #expect(try text("\(root)/etc/profile") == "# profile\n" && text("\(root)/root/.bashrc") == "# dot.bashrc\n")
        #expect(try text("\(root)/usr/share/info/dir") == "# info.dir\n")
        #expect(try linkTarget("\(root)/etc/dpkg/origins/default") == "debian")
        let mail = try status("\(root)/var/mail")
        #expect(mail.st_mode & 0o7777 == 0o2775 && mail.st_gid == 8)
        let wtmp = try status("\(root)/var/log/wtmp")
        #expect(wtmp.st_mode & 0o7777 == 0o664 && wtmp.st_gid == 43 && wtmp.st_size == 0)
        #expect(try linkTarget("\(root)/usr/local/man") == "share/man")
        #expect(try linkTarget("\(root)/etc/localtime") == "/usr/share/zoneinfo/Etc/UTC")
        #expect(try text("\(root)/etc/timezone") == "Etc/UTC\n")
        #expect(FileManager.default.fileExists(atPath: "\(root)/lib/x86_64-linux-gnu/libhello-early.so.1"))

        #expect(try text("\(root)/etc/passwd") == """
            root:x:0:0:root:/root:/bin/bash
            daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
            _apt:x:42:65534::/nonexistent:/usr/sbin/nologin
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

            """)
        #expect(try text("\(root)/etc/group") == "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nnogroup:x:65534:\n")
        #expect(try text("\(root)/etc/shadow").hasPrefix("root:*::0:99999:7:::\ndaemon:*::0:99999:7:::\n"))
        let shadow = try status("\(root)/etc/shadow")
        #expect(shadow.st_mode & 0o7777 == 0o640 && shadow.st_uid == 0 && shadow.st_gid == 42)
        #expect(try text("\(root)/etc/gshadow") == "root:*::\ndaemon:*::\nshadow:*::\nnogroup:*::\n")
        #expect(try status("\(root)/etc/passwd").st_mode & 0o7777 == 0o644)

        // C, B, Z (A deselected with '!'), each ending with a line end.
        #expect(try text("\(root)/etc/ssl/certs/ca-certificates.crt") == """
            -----BEGIN CERTIFICATE-----
            CCCC
            -----END CERTIFICATE-----
            -----BEGIN CERTIFICATE-----
            BBBB
            -----END CERTIFICATE-----
            -----BEGIN CERTIFICATE-----
            ZZZZ
            -----END CERTIFICATE-----

            """)
        let pem = try linkTarget("\(root)/etc/ssl/certs/B_Root_=2020=__Inc.pem")
        #expect(pem == "/usr/share/ca-certificates/mozilla/B_Root (2020), Inc.crt")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/etc/ssl/certs/A_Root.pem"))
        #expect(try status("\(root)/etc/ld.so.conf.d").st_mode & S_IFMT == S_IFDIR)

        // Applying them twice changes nothing.
        let before = try check(run("find", [root, "-printf", "%P %m %U %G %l\\n"]))
        try SystemFixups.applyBase(root: root)
        #expect(try check(run("find", [root, "-printf", "%P %m %U %G %l\\n"])) == before)
    }

    @Test("without a ca-certificates.conf, one is made from the store, sorted, as the postinst does")
    func certificatesWithoutConf() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try DebLayerBuilder(root: root).build(debs: [try caDeb(withConf: false).build(in: scratch.path)])
        try SystemFixups.applyBase(root: root)
        let conf = try text("\(root)/etc/ca-certificates.conf")
        #expect(conf.hasPrefix("# This file lists certificates"))
        #expect(conf.hasSuffix("#\nlocal/Z_Root.crt\nmozilla/A_Root.crt\nmozilla/B_Root (2020), Inc.crt\nmozilla/C_Root.crt\n"))
        let bundle = try text("\(root)/etc/ssl/certs/ca-certificates.crt")
        let bodies = bundle.split(separator: "\n").filter { !$0.hasPrefix("-----") }
        #expect(bodies == ["ZZZZ", "AAAA", "BBBB", "CCCC"])
    }

    @Test("tools fixups and the package's postinst: compiler alternatives, no SSH host keys, /run/sshd, sshd_config; the sshd account")
    func toolsFixups() throws {
        let scratch = try ScratchDirectory("debs")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let deb = try toolsDeb.build(in: scratch.path)
        try DebLayerBuilder(root: root).build(debs: [deb])
        try SystemFixups.applyTools(root: root)
        // The alternatives come from the package's postinst.
        try MaintainerEffects.apply(root: root, context: .init(ownDebs: [deb], lowerDebs: [], architecture: "amd64", requested: ["tools"]))
        #expect(try text("\(root)/var/lib/dpkg/info/tools.postinst").contains("update-alternatives"))

        #expect(try linkTarget("\(root)/usr/bin/cc") == "/etc/alternatives/cc")
        #expect(try linkTarget("\(root)/etc/alternatives/cc") == "/usr/bin/gcc")
        #expect(try linkTarget("\(root)/usr/bin/c++") == "/etc/alternatives/c++")
        #expect(try linkTarget("\(root)/etc/alternatives/c++") == "/usr/bin/g++")
        #expect(try linkTarget("\(root)/usr/lib/cpp") == "/etc/alternatives/cpp")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/lib"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/usr/bin/c89"))
        #expect(try text("\(root)/var/lib/dpkg/alternatives/cc") == "auto\n/usr/bin/cc\n\n/usr/bin/gcc\n20\n\n")
        // update-alternatives itself reads the record.
        let query = try check(run("update-alternatives", ["--root", root, "--query", "cc"]))
        #expect(query.contains("Value: /usr/bin/gcc"))

        #expect(snapshot("\(root)/etc/ssh").sorted() == ["moduli", "sshd_config"])
        #expect(try text("\(root)/etc/ssh/sshd_config") == "Include /etc/ssh/sshd_config.d/*.conf\n")
        #expect(try status("\(root)/run/sshd").st_mode & 0o7777 == 0o755)

        #expect(SystemFixups.opensshServerAccounts().passwd == ["sshd:x:100:65534::/run/sshd:/usr/sbin/nologin"])
        let taken = SystemFixups.opensshServerAccounts(existingPasswd: "root:x:0:0::/root:/bin/bash\nsomeone:x:100:100::/:/bin/sh\n")
        #expect(taken.passwd == ["sshd:x:101:65534::/run/sshd:/usr/sbin/nologin"])
        #expect(taken.shadow == ["sshd:!:::::::"] && taken.group.isEmpty)
    }
}
