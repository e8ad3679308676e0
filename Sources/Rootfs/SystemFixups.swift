import SystemSupport

/// What the maintainer scripts of a Debian system would have done, done explicitly and
/// deterministically on a component tree that ``DebLayerBuilder`` unpacked (no script runs).
///
/// Every path is resolved inside the tree (an absolute symlink starts at the tree's root), so a
/// fixup never writes outside it. The output depends only on the tree's contents.
public enum SystemFixups {
    /// `/etc/passwd`-style lines a package's `postinst` would add, for the config layer to
    /// merge into the base layer's account files.
    public struct Accounts: Hashable, Sendable {
        /// Lines for `/etc/passwd`.
        public var passwd: [String]
        /// Lines for `/etc/group`.
        public var group: [String]
        /// Lines for `/etc/shadow`.
        public var shadow: [String]
        /// Lines for `/etc/gshadow`.
        public var gshadow: [String]

        /// A set of account lines.
        public init(passwd: [String] = [], group: [String] = [], shadow: [String] = [], gshadow: [String] = []) {
            self.passwd = passwd
            self.group = group
            self.shadow = shadow
            self.gshadow = gshadow
        }
    }

    /// The `_apt` user's id in base-passwd's `passwd.master`: it owns apt's download folders.
    public static let aptUserID: UInt32 = 42

    /// The `shadow` group's id in base-passwd's `group.master`: it owns `/etc/shadow`.
    public static let shadowGroupID: UInt32 = 42

    // MARK: Base

    /// Fixes up the base component's tree:
    ///
    /// - merged /usr: `bin`, `sbin`, `lib` and `lib64` become symlinks to `usr/bin`, … (and
    ///   `lib32`, `libx32` when `usr/lib32`, `usr/libx32` exist), the `usr/` directories exist;
    ///   `var/run` → `/run` and `var/lock` → `/run/lock` (base-files' `migrate_directory`);
    /// - base-files' `postinst` (when `usr/share/base-files` exists): `etc/profile`, `etc/motd`,
    ///   `root/.profile`, `root/.bashrc` from its templates, the directories it makes (`opt`,
    ///   `srv`, `media`, `mnt`, `var/mail` 2775 root:mail, `run/lock` 1777, `usr/local/…`),
    ///   `var/spool/mail` → `../mail`, `usr/local/man` → `share/man`, `var/log/wtmp`, `btmp` and
    ///   `lastlog` (root:utmp), `etc/dpkg/origins/default` → `debian`, `usr/share/info/dir`;
    /// - accounts (base-passwd's `update-passwd`, then `shadowconfig on`): `etc/passwd` and
    ///   `etc/group` from `usr/share/base-passwd/passwd.master` and `group.master` with the
    ///   passwords moved to `etc/shadow` and `etc/gshadow` (`*`: no password login; mode 0640,
    ///   group shadow);
    /// - CA certificates (ca-certificates' `postinst` and `update-ca-certificates`): when
    ///   `usr/share/ca-certificates` exists, `etc/ca-certificates.conf` (made from the `.crt`
    ///   files there, sorted, if the tree has none), `etc/ssl/certs/ca-certificates.crt` (the
    ///   selected certificates concatenated in the order the conf lists them) and
    ///   `etc/ssl/certs/NAME.pem` links, and the OpenSSL hash links `HASH.N → NAME.pem` that
    ///   `c_rehash` makes (``CertificateHash``);
    /// - the time zone (tzdata's `postinst`, debconf's default): `etc/localtime` →
    ///   `/usr/share/zoneinfo/Etc/UTC` and `etc/timezone` when tzdata is there;
    /// - `etc/ld.so.conf.d` exists. (`ld.so.cache` is not made here: it must be made over the
    ///   whole image, whose libraries span layers.)
    ///
    /// Applying it twice gives the same tree.
    public static func applyBase(root: String) throws {
        let tree = try DebRootTree(root: root)
        try makeRedirectLinks(tree)
        try applyBaseFiles(tree)
        try writeAccounts(tree)
        try writeCertificates(tree)
        try setTimeZone(tree)
        try tree.makeDirectories("etc/ld.so.conf.d")
    }

    private static func makeRedirectLinks(_ tree: DebRootTree) throws {
        for redirect in DebUnpacker.redirects {
            let name = redirect.from.joined(separator: "/")
            let target = redirect.to.joined(separator: "/")
            // lib32 and libx32 only on systems that have them.
            if ["lib32", "libx32"].contains(name), try !tree.isDirectory(target) { continue }
            // /run/lock is world-writable and sticky, as base-files' `install_directory` makes it.
            try tree.makeDirectories(redirect.to.dropLast().joined(separator: "/"))
            try tree.makeDirectories(target, mode: target == "run/lock" ? 0o1777 : 0o755)
            switch try tree.kind(name) {
            case .missing: break
            case .symlink(let existing) where existing == redirect.link: continue
            case .symlink: try tree.remove(name)
            case .directory:
                guard try tree.removeEmptyDirectory(name) else {
                    throw RootfsError.io(
                        path: tree.hostPath(redirect.from), reason: "a non-empty directory where the image needs a symlink to \(redirect.link)")
                }
            case .regular, .other:
                throw RootfsError.io(
                    path: tree.hostPath(redirect.from), reason: "a file where the image needs a symlink to \(redirect.link)")
            }
            try tree.makeSymlink(name, to: redirect.link)
        }
    }

    /// base-files' `postinst` on a first configuration.
    private static func applyBaseFiles(_ tree: DebRootTree) throws {
        let templates = "usr/share/base-files/"
        guard try tree.isDirectory(templates) else { return }
        if try !tree.exists("etc/dpkg/origins/default"), try tree.exists("etc/dpkg/origins/debian") {
            try tree.makeSymlink("etc/dpkg/origins/default", to: "debian")
        }
        let copies = [("dot.profile", "root/.profile"), ("dot.bashrc", "root/.bashrc"), ("profile", "etc/profile"), ("motd", "etc/motd")]
        for (template, path) in copies {
            if try tree.kind(path) != .regular, let bytes = try tree.readFile(templates + template) {
                try tree.writeFile(path, bytes)
            }
        }
        let mailGroup: UInt32 = 8
        for (path, mode, gid) in [
            ("mnt", 0o755, 0), ("srv", 0o755, 0), ("opt", 0o755, 0), ("etc/opt", 0o755, 0), ("var/opt", 0o755, 0),
            ("media", 0o755, 0), ("var/mail", 0o2775, mailGroup), ("run/lock", 0o1777, 0),
        ] as [(String, UInt32, UInt32)] where try !tree.isDirectory(path) {
            try tree.makeDirectories(path)
            try tree.setOwnerAndMode(path, mode: mode, gid: gid)
        }
        if try tree.kind("var/spool/mail") == .missing { try tree.makeSymlink("var/spool/mail", to: "../mail") }
        let staff = try tree.exists("etc/staff-group-for-usr-local")
        for directory in ["", "/share", "/share/man", "/bin", "/games", "/lib", "/include", "/sbin", "/src", "/etc"] {
            try tree.makeDirectories("usr/local" + directory)
            if staff { try tree.setOwnerAndMode("usr/local" + directory, mode: 0o2775, gid: 50) }
        }
        if try !tree.isDirectory("usr/local/man") { try tree.makeSymlink("usr/local/man", to: "share/man") }
        let utmpGroup: UInt32 = 43
        for (path, mode) in [("var/log/wtmp", 0o664), ("var/log/btmp", 0o660), ("var/log/lastlog", 0o664)] as [(String, UInt32)] {
            if try tree.kind(path) != .regular { try tree.writeFile(path, [], mode: mode, gid: utmpGroup) }
            try tree.setOwnerAndMode(path, mode: mode, gid: utmpGroup)
        }
        if try tree.isDirectory("usr/share/info"), try !tree.exists("usr/info/dir"), try !tree.exists("usr/share/info/dir"),
           let bytes = try tree.readFile(templates + "info.dir") {
            try tree.writeFile("usr/share/info/dir", bytes)
        }
    }

    /// tzdata's `postinst` with debconf's default answer (UTC).
    private static func setTimeZone(_ tree: DebRootTree) throws {
        guard try tree.kind("usr/share/zoneinfo/Etc/UTC") == .regular else { return }
        if try tree.kind("etc/localtime") == .missing { try tree.makeSymlink("etc/localtime", to: "/usr/share/zoneinfo/Etc/UTC") }
        if try tree.kind("etc/timezone") == .missing { try tree.writeFile("etc/timezone", "Etc/UTC\n") }
    }

    private static func writeAccounts(_ tree: DebRootTree) throws {
        let masters = "usr/share/base-passwd/"
        guard let passwd = try tree.readFile(masters + "passwd.master"), let group = try tree.readFile(masters + "group.master") else {
            return
        }
        let accounts = Self.accounts(
            passwdMaster: String(decoding: passwd, as: UTF8.self), groupMaster: String(decoding: group, as: UTF8.self))
        try tree.writeFile("etc/passwd", accounts.passwd.map { $0 + "\n" }.joined())
        try tree.writeFile("etc/shadow", accounts.shadow.map { $0 + "\n" }.joined(), mode: 0o640, gid: shadowGroupID)
        try tree.writeFile("etc/group", accounts.group.map { $0 + "\n" }.joined())
        try tree.writeFile("etc/gshadow", accounts.gshadow.map { $0 + "\n" }.joined(), mode: 0o640, gid: shadowGroupID)
    }

    /// The account files base-passwd's `postinst` makes from its masters — passwords moved to
    /// `shadow`/`gshadow` (`x` in `passwd`/`group`), every account locked — followed by `extra`
    /// accounts (service users of other packages, a non-root user), in order.
    public static func accounts(passwdMaster: String, groupMaster: String, extra: [Accounts] = []) -> Accounts {
        let users = lines(Array(passwdMaster.utf8))
        let groups = lines(Array(groupMaster.utf8))
        var result = Accounts(
            passwd: users.map { replacingField(1, of: $0, with: "x") },
            group: groups.map { replacingField(1, of: $0, with: "x") },
            shadow: users.map { shadowLine(for: field(0, of: $0)) },
            gshadow: groups.map { "\(field(0, of: $0)):*::" })
        for more in extra {
            result.passwd += more.passwd
            result.group += more.group
            result.shadow += more.shadow
            result.gshadow += more.gshadow
        }
        return result
    }

    /// A non-root user with a group of its own, as `adduser` makes one (locked password).
    public static func userAccounts(name: String, uid: Int, gid: Int) -> Accounts {
        Accounts(
            passwd: ["\(name):x:\(uid):\(gid)::/home/\(name):/bin/bash"], group: ["\(name):x:\(gid):"],
            shadow: [shadowLine(for: name)], gshadow: ["\(name):!::"])
    }

    /// The header ca-certificates' `postinst` writes at the top of a new `ca-certificates.conf`.
    static let certificatesConfHeader = """
        # This file lists certificates that you wish to use or to ignore to be
        # installed in /etc/ssl/certs.
        # update-ca-certificates(8) will update /etc/ssl/certs by reading this file.
        #
        # This is autogenerated by dpkg-reconfigure ca-certificates.
        # Certificates should be installed under /usr/share/ca-certificates
        # and files with extension '.crt' is recognized as available certs.
        #
        # line begins with # is comment.
        # line begins with ! is certificate filename to be deselected.
        #

        """

    private static func writeCertificates(_ tree: DebRootTree) throws {
        let store = "usr/share/ca-certificates"
        guard try tree.isDirectory(store) else { return }
        let conf: [String]
        if let bytes = try tree.readFile("etc/ca-certificates.conf") {
            conf = lines(bytes)
        } else {
            let found = try certificateFiles(tree, store, prefix: "")
            try tree.writeFile("etc/ca-certificates.conf", certificatesConfHeader + found.map { $0 + "\n" }.joined())
            conf = found
        }
        let selected = conf.map(\.debTrimmed).filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("!") }
        var bundle: [UInt8] = []
        var linked: [(name: String, pem: [UInt8])] = []
        try tree.makeDirectories("etc/ssl/certs")
        for certificate in selected {
            // update-ca-certificates skips (with a warning) a listed file that is missing.
            guard var pem = try tree.readFile(store + "/" + certificate) else { continue }
            if let last = pem.last, last != 0x0A { pem.append(0x0A) }
            bundle += pem
            let name = String(certificate.split(separator: "/").last ?? "")
            try tree.makeSymlink("etc/ssl/certs/" + pemLinkName(name), to: "/\(store)/\(certificate)")
            linked.append((pemLinkName(name), pem))
        }
        for (link, target) in CertificateHash.links(linked) {
            try tree.makeSymlink("etc/ssl/certs/" + link, to: target)
        }
        try tree.writeFile("etc/ssl/certs/ca-certificates.crt", bundle)
    }

    /// The `.crt` files under `directory`, relative to `store`, sorted by bytes.
    private static func certificateFiles(_ tree: DebRootTree, _ directory: String, prefix: String) throws -> [String] {
        var found: [String] = []
        for name in try tree.list(directory) {
            let path = directory + "/" + name
            switch try tree.kind(path) {
            case .directory: found += try certificateFiles(tree, path, prefix: prefix + name + "/")
            case .regular where name.hasSuffix(".crt"): found.append(prefix + name)
            default: continue
            }
        }
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// update-ca-certificates' link name: `.crt` becomes `.pem`; spaces and commas become `_`,
    /// parentheses `=`.
    static func pemLinkName(_ certificate: String) -> String {
        var base = certificate
        if base.hasSuffix(".crt") { base.removeLast(4) }
        let mapped = base.map { character -> Character in
            switch character {
            case " ", ",": "_"
            case "(", ")": "="
            default: character
            }
        }
        return String(mapped) + ".pem"
    }

    // MARK: Tools

    /// Fixes up the tools component's tree:
    ///
    /// - SSH: host keys (`etc/ssh/ssh_host_*`) removed (each container makes its own when it
    ///   starts), `run/sshd` (0755) made, and `etc/ssh/sshd_config` copied from
    ///   `usr/share/openssh/sshd_config` when the tree has the template but not the file (the
    ///   postinst installs it through ucf). The `sshd` account is ``opensshServerAccounts(existingPasswd:)``.
    public static func applyTools(root: String, sshGroupID: UInt32? = nil) throws {
        let tree = try DebRootTree(root: root)
        // openssh-client's postinst: ssh-agent is setgid _ssh, so other users cannot ptrace it.
        if let sshGroupID, try tree.kind("usr/bin/ssh-agent") == .regular {
            try tree.setOwnerAndMode("usr/bin/ssh-agent", mode: 0o2755, gid: sshGroupID)
        }
        if try tree.isDirectory("etc/ssh") {
            for name in try tree.list("etc/ssh") where name.hasPrefix("ssh_host_") {
                if try tree.kind("etc/ssh/" + name) != .directory { try tree.remove("etc/ssh/" + name) }
            }
        }
        if try tree.exists("usr/sbin/sshd") || tree.exists("etc/ssh") {
            try tree.makeDirectories("run/sshd", mode: 0o755)
        }
        if try !tree.exists("etc/ssh/sshd_config"), let template = try tree.readFile("usr/share/openssh/sshd_config") {
            try tree.writeFile("etc/ssh/sshd_config", template)
        }
    }

    /// An absolute image path as a path in a tree without the base layer's directory symlinks
    /// (`/lib/cpp` → `usr/lib/cpp`), as ``DebUnpacker`` writes it.
    static func redirected(_ path: String) -> String {
        var parts = TreePath.components(of: path)
        if let redirect = DebUnpacker.redirects.first(where: { parts.starts(with: $0.from) && parts.count > $0.from.count }) {
            parts = redirect.to + parts.dropFirst(redirect.from.count)
        }
        return parts.joined(separator: "/")
    }

    // MARK: Accounts

    /// The account openssh-server's `postinst` adds (`adduser --system --no-create-home --home
    /// /run/sshd --shell /usr/sbin/nologin sshd`): user `sshd` with the first free system uid
    /// (100–999) given the passwd lines the image already has, group `nogroup` (65534), no group
    /// of its own. Pass the base layer's `etc/passwd`; without it the uid is 100, which is what
    /// base-passwd's accounts (none in 100–999) leave free.
    public static func opensshServerAccounts(existingPasswd: String? = nil) -> Accounts {
        let used = Set((existingPasswd.map { lines(Array($0.utf8)) } ?? []).compactMap { UInt32(field(2, of: $0)) })
        let uid = (100...999).first { !used.contains(UInt32($0)) } ?? 999
        // adduser --system: a locked password (`!`), no ageing fields; no last-change date (it would be the build's).
        return Accounts(passwd: ["sshd:x:\(uid):65534::/run/sshd:/usr/sbin/nologin"], shadow: ["sshd:!:::::::"])
    }

    /// The group openssh-client's `postinst` adds (`addgroup --system _ssh`), with the first
    /// free system gid (100–999) given the group lines the image already has; it owns ssh-agent.
    public static func opensshClientAccounts(existingGroup: String) -> (accounts: Accounts, gid: UInt32) {
        let used = Set(lines(Array(existingGroup.utf8)).compactMap { UInt32(field(2, of: $0)) })
        let gid = (UInt32(100)...999).first { !used.contains($0) } ?? 999
        return (Accounts(group: ["_ssh:x:\(gid):"], gshadow: ["_ssh:!::"]), gid)
    }

    /// A locked `/etc/shadow` line, without a last-change date (it would be the build's date).
    static func shadowLine(for user: String) -> String {
        "\(user):*::0:99999:7:::"
    }

    // MARK: Text

    /// The non-empty lines of a text file.
    static func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.debTrimmed.isEmpty }
    }

    /// Field `index` of a colon-separated line.
    static func field(_ index: Int, of line: String) -> String {
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        return index < fields.count ? String(fields[index]) : ""
    }

    /// A colon-separated line with field `index` replaced.
    static func replacingField(_ index: Int, of line: String, with value: String) -> String {
        var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if index < fields.count { fields[index] = value }
        return fields.joined(separator: ":")
    }
}
