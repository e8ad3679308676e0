import Glibc
import Foundation
import ImageModel
import OCI
import SystemSupport

/// Which Python files of a layer of `.deb` packages Debian byte-compiles when it configures
/// them, read from the packages' `postinst` scripts (which imagegen never runs: nothing from
/// the image runs while it is built). Two forms occur, and both are derived from the script's text:
///
/// - `/usr/bin/python3.X … py_compile.py $files` with `files=$(dpkg -L PACKAGE | sed -n
///   '/^\/usr\/lib\/python3.X\/.*\.py$/p')`: the listed package's `.py` files under
///   `/usr/lib/python3.X/` (python3.11's scripts compile libpython3.11-minimal's and
///   -stdlib's modules, python3.11-venv, python3-distutils and python3-lib2to3 their own).
/// - `py3compile -p PACKAGE [DIR…]` (dh_python3): the package's `.py` files under each `DIR`,
///   or without one, its public modules under `/usr/lib/python3/dist-packages/` and
///   `/usr/lib/python3.X/dist-packages/`; `-X REGEX` excludes, as py3compile's do. A command
///   whose words are not all literal, or with `-O`, is not guessed at.
///
/// py3compile's `/usr/share/python3/bcep/` exclusions are not applied (no package of the
/// supported images ships one). A listed file that is a symlink is read through it within the
/// tree (libpython3.11-minimal's `sitecustomize.py` → `/etc/python3.11/sitecustomize.py`) and
/// left out when it dangles, as python3.11-minimal's `postinst` leaves it out.
public enum DebianBytecode {
    /// What a `postinst` asks to compile: `package`'s `.py` files under `prefixes`, less `excluded`.
    struct Rule: Hashable {
        var package: String
        var prefixes: [String]
        var excluded: [String] = []
    }

    /// The sources to compile in the layer at `root`, made from `debs` (unpacked there, with
    /// their dpkg `info` lists); `lower` are the `.deb` files of the layers below, read only
    /// when a `postinst` here compiles a package of theirs (its files then come from its `.deb`).
    public static func sources(root: String, debs: [String], lower: [String], python: PythonVersion) throws -> [BytecodeCompiler.Source] {
        var own: [String: (infoName: String, deb: String)] = [:]
        var rules: [Rule] = []
        for deb in debs {
            let control = try ControlScripts(deb: deb)
            own[control.name] = (control.infoName, deb)
            rules += Self.rules(postinst: control.postinst ?? "", python: python)
        }
        guard !rules.isEmpty else { return [] }
        var lowerByName: [String: String]?
        var sources: [BytecodeCompiler.Source] = []
        for rule in rules {
            if let package = own[rule.package] {
                let list = try FileReader.readAll(path: "\(root)/\(DpkgDatabase.directory)/info/\(package.infoName).list", limit: 64 << 20)
                for path in String(decoding: list, as: UTF8.self).split(separator: "\n").map(String.init) where rule.matches(path) {
                    if let source = treeSource(path, root: root) { sources.append(source) }
                }
            } else {
                if lowerByName == nil {
                    lowerByName = try Dictionary(lower.map { (try ControlScripts(deb: $0).name, $0) }, uniquingKeysWith: { _, last in last })
                }
                guard let deb = lowerByName?[rule.package] else { continue }
                sources += try debSources(deb, rule: rule)
            }
        }
        return sources
    }

    /// The rules in a `postinst`'s text.
    static func rules(postinst text: String, python: PythonVersion) -> [Rule] {
        var rules: [Rule] = []
        let version = "python\(python.majorMinor)"
        if text.contains("py_compile") {
            // `dpkg -L NAME[:ARCH]` in a script that runs py_compile: NAME's stdlib files.
            for match in text.matches(of: /dpkg\s+-L\s+([a-z0-9][a-z0-9+.-]*)(:[a-z0-9-]+)?/) {
                rules.append(Rule(package: String(match.output.1), prefixes: ["/usr/lib/\(version)/"]))
            }
        }
        for line in text.split(separator: "\n") {
            // A word in single quotes is literal; any other word with an expansion is not guessed at.
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { word -> String? in
                if word.count >= 2, word.hasPrefix("'"), word.hasSuffix("'") { return String(word.dropFirst().dropLast()) }
                return word.contains("$") || word.contains("`") || word.contains("'") ? nil : String(word)
            }
            guard words.first == "py3compile", !words.contains(nil) else { continue }
            let literal = words.compactMap { $0 }
            var package: String?
            var directories: [String] = []
            var excluded: [String] = []
            var optimised = false
            var index = 1
            while index < literal.count {
                let word = literal[index]
                index += 1
                switch word {
                case "-p", "--package":
                    package = index < literal.count ? literal[index] : nil
                    index += 1
                case "-V":
                    index += 1
                case "-X", "--exclude":
                    if index < literal.count { excluded.append(literal[index]) }
                    index += 1
                case "-O": optimised = true
                case ";", "||", "&&", "|": index = literal.count
                default:
                    if word.hasPrefix("--package=") { package = String(word.dropFirst("--package=".count)) }
                    if word.hasPrefix("/") { directories.append(word.hasSuffix("/") ? word : word + "/") }
                }
            }
            guard let package, !optimised else { continue }
            let prefixes = directories.isEmpty ? ["/usr/lib/python3/dist-packages/", "/usr/lib/\(version)/dist-packages/"] : directories
            rules.append(Rule(package: package, prefixes: prefixes, excluded: excluded))
        }
        return rules
    }

    /// A listed file as a source in the tree: a regular file, or a symlink whose target (followed
    /// within the tree) is one; nil otherwise.
    static func treeSource(_ listed: String, root: String) -> BytecodeCompiler.Source? {
        guard let path = treePath(listed) else { return nil }
        var current = path
        for _ in 0..<16 {
            var st = stat()
            guard lstat("\(root)/\(current)", &st) == 0 else { return nil }
            switch st.st_mode & S_IFMT {
            case S_IFREG: return BytecodeCompiler.Source(path: path, content: .file("\(root)/\(current)"))
            case S_IFLNK:
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/\(current)"),
                      let next = resolve(target, from: current)
                else { return nil }
                current = next
            default: return nil
            }
        }
        return nil
    }

    /// A dpkg-listed absolute path as a tree path, merged-/usr applied (`/lib/x` → `usr/lib/x`).
    static func treePath(_ listed: String) -> String? {
        // dpkg lists each path one way: a `.` part, like a `..` part, is no listed file.
        guard listed.hasPrefix("/"), !listed.split(separator: "/").contains("."), let path = try? TreePath(rooted: listed),
              let top = path.components.first
        else { return nil }
        return DebUnpacker.mergedDirectories.contains(top) ? "usr/" + path.relative : path.relative
    }

    /// A symlink's target as a tree path: absolute targets from the tree's root, relative ones
    /// from the link's directory; nil if it climbs above the root.
    static func resolve(_ target: String, from link: String) -> String? {
        guard let link = try? TreePath(rooted: link), let resolved = link.parent.resolving(linkTarget: target) else { return nil }
        return treePath(resolved.absolute)
    }

    /// A lower layer's package files that `rule` compiles, read from its `.deb` (regular files only).
    static func debSources(_ deb: String, rule: Rule) throws -> [BytecodeCompiler.Source] {
        let archive = try DebArchive(path: deb)
        let stream = try archive.open(archive.data)
        var sources: [BytecodeCompiler.Source] = []
        while let header = try stream.next() {
            let listed = "/" + TreePath.components(of: header.name).joined(separator: "/")
            guard header.kind == .regular, rule.matches(listed), let path = treePath(listed) else { continue }
            sources.append(BytecodeCompiler.Source(path: path, content: .bytes(try stream.readAll(limit: 1 << 30))))
        }
        return sources
    }
}

extension DebianBytecode.Rule {
    /// Whether the rule compiles the listed path: a `.py` file under a prefix, not excluded
    /// (py3compile matches an exclusion at the start of the path, or of the path below the directory).
    func matches(_ path: String) -> Bool {
        guard path.hasSuffix(".py"), let prefix = prefixes.first(where: { path.hasPrefix($0) }) else { return false }
        let below = String(path.dropFirst(prefix.count))
        for pattern in excluded {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            for candidate in [path, below] where regex.firstMatch(in: candidate, options: .anchored, range: NSRange(candidate.startIndex..., in: candidate)) != nil {
                return false
            }
        }
        return true
    }
}

/// The control fields and `postinst` of a `.deb`, read from its control archive.
struct ControlScripts {
    var name: String
    /// `NAME`, or `NAME:ARCH` for a `Multi-Arch: same` package: its `info` files' name.
    var infoName: String
    var postinst: String?

    init(deb: String) throws {
        let archive = try DebArchive(path: deb)
        let stream = try archive.open(archive.control)
        var members: [String: [UInt8]] = [:]
        while let header = try stream.next() {
            let name = TreePath.components(of: header.name).joined(separator: "/")
            guard header.kind == .regular, name == "control" || name == "postinst" else { continue }
            members[name] = try stream.readAll()
        }
        guard let control = members["control"] else { throw RootfsError.invalidDeb(deb: deb, reason: "control.tar holds no 'control' file") }
        let fields = DebControl.fields(try DebControl.paragraph(control, deb: deb))
        guard let name = fields["package"], let architecture = fields["architecture"] else {
            throw RootfsError.invalidDeb(deb: deb, reason: "the control file has no 'Package' or 'Architecture' field")
        }
        self.name = name
        infoName = fields["multi-arch"] == "same" ? "\(name):\(architecture)" : name
        postinst = members["postinst"].map { String(decoding: $0, as: UTF8.self) }
    }
}
