import SystemSupport

/// The effects of the packages' maintainer scripts that an installed Debian system has, made
/// on a component tree after its debs were unpacked — derived from what the packages ship,
/// never by running a script, and the same bytes on every build.
///
/// Each Debian layer does what configuring its own packages would do on top of the layers
/// below: a file that gathers the contributions of several packages (an alternatives group,
/// `/etc/shells`, PAM's `common-*` files, ucf's registry, apt's marks) is written whole, from
/// this layer's packages and those below, by the layer whose package changes it — so the
/// topmost copy, the one a container sees, is complete, and a layer never depends on the
/// layers above it.
///
/// | effect | from |
/// |---|---|
/// | `/etc/alternatives`, `/var/lib/dpkg/alternatives`, the generic links | `update-alternatives --install` in `postinst`s (literal words only) |
/// | `/etc/pam.d/common-*`, `/var/lib/pam/*` | `/usr/share/pam-configs/*` and `/usr/share/pam/common-*` (``PamAuthUpdate``) |
/// | `/etc/shells`, `/var/lib/shells.state` | debianutils' `update-shells` over `/usr/share/debianutils/shells` and `shells.d/*` |
/// | `/var/lib/ucf/registry`, `hashfile`, `cache/` | `ucfr PACKAGE FILE` (and `ucf --three-way`) in `postinst`s |
/// | `/var/lib/dpkg/arch` | the image's architecture |
/// | `/var/lib/apt/extended_states` | packages the spec did not ask for (nor the base system) marked auto-installed |
/// | `/var/lib/dpkg/triggers/*` | the packages' `triggers` control files |
/// | `/var/lib/dpkg/diversions` | dash's `claim_binsh` (/bin/sh diverted from bash), written by package name |
/// | files a `postinst` copies from a shipped default (`install_from_default SRC DEST`: `/etc/nsswitch.conf`, `/etc/inputrc`) or writes from a here-document (`/etc/hosts.allow`, `/etc/python3/debian_config`) when missing | the script's text |
/// | `/etc/environment`, `/etc/security/opasswd`, `/etc/subuid`, `/etc/subgid`, `/var/log/faillog`, `/usr/local/lib/python3.X/dist-packages`, `/usr/local/share/ca-certificates`, apt's `partial` folders owned by `_apt` | the first-configuration branches of libpam-modules', login's, python3.X-minimal's, ca-certificates', dash's and apt's `postinst` (written here by package name) |
public enum MaintainerEffects {
    /// What a layer's configuration needs to know.
    public struct Context: Sendable {
        /// This layer's packages, in unpack order.
        public var own: [PackageScripts]
        /// The packages of the layers below.
        public var lower: [PackageScripts]
        /// The image's dpkg architecture (`amd64`).
        public var architecture: String
        /// Packages the spec asks for by name: apt keeps them as manually installed.
        public var requested: Set<String>

        /// A context.
        public init(own: [PackageScripts], lower: [PackageScripts], architecture: String, requested: Set<String>) {
            self.own = own
            self.lower = lower
            self.architecture = architecture
            self.requested = requested
        }

        /// Reads the packages of `own` and `lower` (paths to `.deb` files).
        public init(ownDebs: [String], lowerDebs: [String], architecture: String, requested: Set<String>) throws {
            self.init(
                own: try ownDebs.map { try PackageScripts(readingControlOf: $0) },
                lower: try lowerDebs.map { try PackageScripts(readingControlOf: $0) }, architecture: architecture, requested: requested)
        }
    }

    /// Makes every effect this layer's packages have on the tree at `root`.
    public static func apply(root: String, context: Context) throws {
        let tree = try DebRootTree(root: root)
        try tree.makeDirectories(DpkgDatabase.directory)
        try tree.writeFile("\(DpkgDatabase.directory)/arch", context.architecture + "\n")
        try writeAlternatives(tree, context)
        try writePam(tree, context)
        try writeShells(tree, context)
        try writeUcfRegistry(tree, context)
        try writeExtendedStates(tree, context)
        try writeTriggers(tree, context)
        try writeDiversions(tree, context)
        try firstConfiguration(tree, context)
    }

    /// dpkg's diversions: dash's `claim_binsh` diverts /bin/sh and its manual page from bash.
    /// Every Debian layer writes the database whole (its skeleton has one), from the packages
    /// of this layer and those below.
    private static func writeDiversions(_ tree: DebRootTree, _ context: Context) throws {
        guard (context.lower + context.own).contains(where: { $0.name == "dash" }) else { return }
        let diversions = ["/usr/share/man/man1/sh.1.gz", "/usr/share/man/man1/sh.distrib.1.gz", "dash", "/bin/sh", "/bin/sh.distrib", "dash"]
        try tree.writeFile("\(DpkgDatabase.directory)/diversions", diversions.map { $0 + "\n" }.joined())
    }

    // MARK: Triggers

    /// dpkg's triggers database: `triggers/File` (file triggers: `PATH PACKAGE[/noawait]`) and
    /// one file per named trigger listing the interested packages, from the packages'
    /// `triggers` control files; `Unincorp` and `Lock` empty, as after a run with nothing pending.
    private static func writeTriggers(_ tree: DebRootTree, _ context: Context) throws {
        guard !context.own.isEmpty else { return }
        var files: [String] = []
        var named: [String: [String]] = [:]
        for package in context.lower + context.own {
            for line in package.triggers {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard words.count == 2, words[0].hasPrefix("interest") else { continue }
                let who = package.name + (words[0] == "interest-noawait" ? "/noawait" : "")
                if words[1].hasPrefix("/") { files.append("\(words[1]) \(who)") } else { named[words[1], default: []].append(who) }
            }
        }
        let directory = "\(DpkgDatabase.directory)/triggers"
        try tree.makeDirectories(directory)
        try tree.writeFile("\(directory)/File", files.map { $0 + "\n" }.joined())
        for (name, packages) in named { try tree.writeFile("\(directory)/\(name)", packages.map { $0 + "\n" }.joined()) }
        try tree.writeFile("\(directory)/Unincorp", "")
        try tree.writeFile("\(directory)/Lock", "", mode: 0o600)
    }

    // MARK: Alternatives

    private static func writeAlternatives(_ tree: DebRootTree, _ context: Context) throws {
        let ownNames = Set(context.own.flatMap { $0.postinst?.alternativeInstalls.map(\.name) ?? [] })
        guard !ownNames.isEmpty else { return }
        // A path exists when a package below ships it as a regular file or this tree has it.
        let lowerFiles = Set(context.lower.flatMap { $0.files.map(SystemFixups.redirected) })
        func exists(_ path: String) -> Bool {
            let inTree = SystemFixups.redirected(path)
            return lowerFiles.contains(inTree) || ((try? tree.kind(inTree)).map { $0 != .missing } ?? false)
        }
        var alternatives = Alternatives()
        // dpkg configures lower layers' packages first.
        for package in context.lower + context.own {
            for install in package.postinst?.alternativeInstalls ?? [] { alternatives.register(install, exists: exists) }
        }
        for name in ownNames.sorted() {
            guard let group = alternatives.groups[name], let best = group.best else { continue }
            try tree.writeFile("\(DpkgDatabase.directory)/alternatives/\(name)", group.record)
            try link(group.link, name: name, to: best.path, tree)
            for slave in group.slaves {
                let generic = SystemFixups.redirected(slave.link)
                if let path = best.choice.slavePaths[slave.name], exists(path) {
                    try link(slave.link, name: slave.name, to: path, tree)
                } else if case .symlink = try tree.kind(generic) {
                    // update-alternatives removes a slave link the selected choice lacks.
                    try tree.remove(generic)
                }
            }
        }
    }

    /// `LINK → /etc/alternatives/NAME → PATH`.
    private static func link(_ link: String, name: String, to path: String, _ tree: DebRootTree) throws {
        try tree.makeDirectories("etc/alternatives")
        try tree.makeSymlink("etc/alternatives/\(name)", to: path)
        let generic = SystemFixups.redirected(link)
        if case .regular = try tree.kind(generic) { return }  // update-alternatives leaves a real file alone
        try tree.makeSymlink(generic, to: "/etc/alternatives/\(name)")
    }

    // MARK: PAM

    private static let pamConfigs = "/usr/share/pam-configs/"
    private static let pamTemplates = "/usr/share/pam/"

    private static func writePam(_ tree: DebRootTree, _ context: Context) throws {
        let prefixes = [pamConfigs, pamTemplates]
        guard context.own.contains(where: { $0.files.contains { file in prefixes.contains { file.hasPrefix($0) } } }) else { return }
        var files: [String: [UInt8]] = [:]
        for package in context.lower { files.merge(try package.files(under: prefixes)) { _, new in new } }
        for package in context.own {
            for file in package.files where prefixes.contains(where: { file.hasPrefix($0) }) {
                if let bytes = try tree.readFile(SystemFixups.redirected(file)) { files[file] = bytes }
            }
        }
        var profiles: [String: [UInt8]] = [:]
        for (path, bytes) in files where path.hasPrefix(pamConfigs) { profiles[String(path.dropFirst(pamConfigs.count))] = bytes }
        let update = PamAuthUpdate(profiles: profiles)
        var wrote = false
        for (type, _) in PamAuthUpdate.types {
            guard let template = files[pamTemplates + "common-" + type],
                  let common = update.commonFile(type: type, template: String(decoding: template, as: UTF8.self)) else { continue }
            try tree.makeDirectories("etc/pam.d")
            try tree.writeFile("etc/pam.d/common-\(type)", common)
            try tree.makeDirectories("var/lib/pam")
            try tree.writeFile("var/lib/pam/\(type)", update.savedState(type: type))
            wrote = true
        }
        if wrote { try tree.writeFile("var/lib/pam/seen", update.seen) }
    }

    // MARK: Shells

    private static let shellsTemplate = "/usr/share/debianutils/shells"
    private static let shellsDirectory = "/usr/share/debianutils/shells.d/"

    /// debianutils' `update-shells` on a system whose `/etc/shells` is the template (its
    /// `postinst` copies it first) and without a state file.
    private static func writeShells(_ tree: DebRootTree, _ context: Context) throws {
        func relevant(_ file: String) -> Bool { file == shellsTemplate || file.hasPrefix(shellsDirectory) }
        guard context.own.contains(where: { $0.files.contains(where: relevant) }) else { return }
        var files: [String: [UInt8]] = [:]
        for package in context.lower { files.merge(try package.files(under: [shellsTemplate, shellsDirectory])) { _, new in new } }
        for package in context.own {
            for file in package.files where relevant(file) {
                if let bytes = try tree.readFile(SystemFixups.redirected(file)) { files[file] = bytes }
            }
        }
        guard let template = files[shellsTemplate] else { return }
        // The template first, then shells.d in C collation order.
        let sources = [shellsTemplate] + files.keys.filter { $0.hasPrefix(shellsDirectory) }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var packaged: [String] = []
        for source in sources {
            for line in String(decoding: files[source] ?? [], as: UTF8.self).split(separator: "\n") {
                let shell = String(line.prefix { $0 != "#" })
                guard !shell.isEmpty else { continue }
                packaged.append(shell)
                // `dpkg-realpath` of the directory: /bin is /usr/bin on a merged-/usr system.
                let real = "/" + SystemFixups.redirected(shell)
                if real != shell { packaged.append(real) }
            }
        }
        var etc: [String] = []
        var seen: Set<String> = []
        for line in String(decoding: template, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let shell = String(line.prefix { $0 != "#" })
            if shell.isEmpty || !seen.contains(shell) {
                etc.append(String(line))
                seen.insert(shell)
            }
        }
        for shell in packaged where !seen.contains(shell) {
            etc.append(shell)
            seen.insert(shell)
        }
        try tree.writeFile("etc/shells", etc.map { $0 + "\n" }.joined())
        try tree.makeDirectories("var/lib")
        try tree.writeFile("var/lib/shells.state", packaged.map { $0 + "\n" }.joined())
    }

    // MARK: ucf

    private static func writeUcfRegistry(_ tree: DebRootTree, _ context: Context) throws {
        let own = context.own.flatMap { $0.postinst?.ucfRegistrations ?? [] }
        guard !own.isEmpty else { return }
        var registry = ""
        var hashes = ""
        try tree.makeDirectories("var/lib/ucf/cache")
        for registration in own {
            // The file is what this layer's fixups wrote (a conffile made from a template).
            guard let bytes = try tree.readFile(SystemFixups.redirected(registration.path)) else { continue }
            registry += "\(registration.package) \t \(registration.path)\n"
            var md5 = DebMD5()
            md5.update(bytes)
            hashes += "\(md5.finalize())  \(registration.path)\n"
            if registration.threeWay {
                try tree.writeFile("var/lib/ucf/cache/" + registration.path.replacingAll("/", with: ":"), bytes)
            }
        }
        // ucf keeps the previous state beside the new one; on a first configuration it was empty.
        try tree.writeFile("var/lib/ucf/registry", registry)
        try tree.writeFile("var/lib/ucf/hashfile", hashes)
        try tree.writeFile("var/lib/ucf/registry.0", "")
        try tree.writeFile("var/lib/ucf/hashfile.0", "")
    }

    // MARK: apt

    /// apt's marks: a package nobody asked for (not named by the spec, not part of the base
    /// system) is auto-installed, so `apt-get autoremove` in the container removes it only once
    /// nothing needs it any more — and removes nothing the image needs.
    private static func writeExtendedStates(_ tree: DebRootTree, _ context: Context) throws {
        guard !context.own.isEmpty else { return }
        var auto: [String: PackageScripts] = [:]
        for package in context.lower + context.own where !package.isBaseSystem && !context.requested.contains(package.name) {
            auto["\(package.name):\(package.architecture)"] = package
        }
        let text = auto.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { key -> String in
            let package = auto[key]!
            return "Package: \(package.name)\nArchitecture: \(package.architecture)\nAuto-Installed: 1\n\n"
        }.joined()
        try tree.makeDirectories("var/lib/apt")
        try tree.writeFile("var/lib/apt/extended_states", text)
    }

    // MARK: First configuration

    /// The branches of `postinst`s that run when a package is configured for the first time and
    /// make a file from nothing or from a template the package ships.
    private static func firstConfiguration(_ tree: DebRootTree, _ context: Context) throws {
        let names = Set(context.own.map(\.name))
        func missing(_ path: String) throws -> Bool { try tree.kind(SystemFixups.redirected(path)) == .missing }
        func parent(_ path: String) throws {
            try tree.makeDirectories(TreePath.components(of: SystemFixups.redirected(path)).dropLast().joined(separator: "/"))
        }
        for package in context.own {
            guard let script = package.postinst else { continue }
            // `install_from_default /usr/share/libc-bin/nsswitch.conf /etc/nsswitch.conf`, /etc/inputrc, …
            for (source, destination) in script.defaultCopies where try missing(destination) {
                guard let bytes = try tree.readFile(SystemFixups.redirected(source)) else { continue }
                try parent(destination)
                try tree.writeFile(SystemFixups.redirected(destination), bytes)
            }
            // `cat > /etc/hosts.allow <<EOF`, python3's /etc/python3/debian_config, …
            for (path, text) in script.hereDocuments where try missing(path) {
                try parent(path)
                try tree.writeFile(SystemFixups.redirected(path), text)
            }
        }
        if names.contains("libpam-modules") {
            if try missing("etc/security/opasswd") {
                try tree.makeDirectories("etc/security")
                try tree.writeFile("etc/security/opasswd", [], mode: 0o600)
            }
            if try missing("etc/environment") { try tree.writeFile("etc/environment", []) }
        }
        if names.contains("login") {
            for path in ["var/log/faillog", "etc/subuid", "etc/subgid"] where try missing(path) {
                try tree.makeDirectories(TreePath.components(of: path).dropLast().joined(separator: "/"))
                try tree.writeFile(path, [])
            }
        }
        for name in names where name.hasPrefix("python3.") && name.hasSuffix("-minimal") {
            let version = name.dropFirst("python".count).dropLast("-minimal".count)
            // Mode 2775 and group staff only where /etc/staff-group-for-usr-local exists (it does not in the image).
            try tree.makeDirectories("usr/local/lib/python\(version)/dist-packages")
        }
        if names.contains("ca-certificates"), try missing("usr/local/share/ca-certificates") {
            // Made with /usr/local's mode (0755 without the staff group).
            try tree.makeDirectories("usr/local/share/ca-certificates")
        }
        if names.contains("apt") {
            // apt's postinst gives its download folders to the _apt user (uid 42 in base-passwd), 0700.
            for path in ["var/cache/apt/archives/partial", "var/lib/apt/lists/partial"] {
                try tree.makeDirectories(path)
                try tree.setOwnerAndMode(path, mode: 0o700, uid: SystemFixups.aptUserID)
            }
        }
    }
}
