/// The commands of a Debian maintainer script, read as data, never run.
///
/// imagegen does not execute a package's `postinst` (nothing from the image runs while it is
/// built, so an arm64 image builds on amd64, and builds stay deterministic). What the image
/// needs from those scripts is read from their text: the simple commands whose every word is
/// a literal (`update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 --slave …`,
/// `ucfr openssh-server /etc/ssh/sshd_config`). A command with a variable, a substitution or a
/// glob in the words that matter is not guessed at: it is left out (see ``command(_:)``).
///
/// The reader follows the shell's lexical rules that such scripts use: backslash-newline joins
/// lines, `#` at the start of a word starts a comment, single and double quotes group words,
/// and `;`, `&&`, `||`, `|`, `&`, newlines and the keywords that start a compound command
/// (`then`, `do`, `else`, …) separate commands.
public struct MaintainerScript: Sendable {
    /// One simple command: its words, with quotes removed. A word that held an expansion
    /// (`$`, a backquote) or a glob is `nil`.
    public struct Command: Hashable, Sendable {
        /// The words, `nil` where a word is not a literal.
        public var words: [String?]
    }

    /// The simple commands in the order they appear.
    public let commands: [Command]
    /// The script's text.
    public let text: String

    /// Reads the commands of `text`.
    public init(_ text: String) {
        self.text = text
        commands = Self.parse(Array(text.unicodeScalars))
    }

    /// `$DPKG_ROOT` is empty when dpkg configures a package on the system it runs on: the
    /// reader drops it, so `"$DPKG_ROOT/etc/shells"` is the literal `/etc/shells`.
    private static let dpkgRoot: [[Unicode.Scalar]] = [Array("${DPKG_ROOT}".unicodeScalars), Array("$DPKG_ROOT".unicodeScalars)]

    private static func startsDpkgRoot(_ text: [Unicode.Scalar], at index: Int) -> Int? {
        for variable in dpkgRoot where index + variable.count <= text.count && Array(text[index..<index + variable.count]) == variable {
            // `$DPKG_ROOTX` would be another variable.
            if variable.last != "}", index + variable.count < text.count,
               text[index + variable.count].properties.isAlphabetic || text[index + variable.count] == "_" { return nil }
            return variable.count
        }
        return nil
    }

    /// Words that end a command before them and are not part of the next one.
    private static let keywords: Set<String> = ["then", "do", "else", "elif", "fi", "done", "esac", "{", "}", "(", ")", "!", "if", "while", "until"]

    private static func parse(_ text: [Unicode.Scalar]) -> [Command] {
        var commands: [Command] = []
        var words: [String?] = []
        var word = ""
        var inWord = false
        var literal = true
        var index = 0

        func endWord() {
            if inWord {
                if words.isEmpty, literal, keywords.contains(word) {
                    // `if cmd`, `then cmd`: the keyword is not the command's name.
                } else {
                    words.append(literal ? word : nil)
                }
            }
            word = ""
            inWord = false
            literal = true
        }
        func endCommand() {
            endWord()
            if !words.isEmpty { commands.append(Command(words: words)) }
            words = []
        }

        while index < text.count {
            let c = text[index]
            switch c {
            case "\\":
                if index + 1 < text.count, text[index + 1] == "\n" {
                    index += 2  // a line continuation
                    continue
                }
                if index + 1 < text.count {
                    word.unicodeScalars.append(text[index + 1])
                    inWord = true
                    index += 2
                    continue
                }
            case "#" where !inWord:
                while index < text.count, text[index] != "\n" { index += 1 }
                continue
            case "'":
                inWord = true
                index += 1
                while index < text.count, text[index] != "'" {
                    word.unicodeScalars.append(text[index])
                    index += 1
                }
            case "\"":
                inWord = true
                index += 1
                while index < text.count, text[index] != "\"" {
                    if text[index] == "$", let skip = startsDpkgRoot(text, at: index) {
                        index += skip
                        continue
                    }
                    if text[index] == "\\", index + 1 < text.count, ["\"", "\\", "$", "`"].contains(text[index + 1]) {
                        index += 1
                    } else if text[index] == "$" || text[index] == "`" {
                        literal = false
                    }
                    word.unicodeScalars.append(text[index])
                    index += 1
                }
            case " ", "\t":
                endWord()
            case "\n", ";", "&", "|", "(", ")":
                endCommand()
            case "$" where startsDpkgRoot(text, at: index) != nil:
                inWord = true
                index += startsDpkgRoot(text, at: index)!
                continue
            case "$", "`", "*", "?", "[":
                literal = false
                inWord = true
                word.unicodeScalars.append(c)
            case "<", ">":
                // A redirection: the command goes on, its target word is not an argument.
                endWord()
                index += 1
                while index < text.count, [">", "&", "<"].contains(text[index]) { index += 1 }
                while index < text.count, text[index] == " " || text[index] == "\t" { index += 1 }
                while index < text.count, ![" ", "\t", "\n", ";", "&", "|"].contains(text[index]) { index += 1 }
                continue
            default:
                inWord = true
                word.unicodeScalars.append(c)
            }
            index += 1
        }
        endCommand()
        return commands
    }

    // MARK: Commands imagegen reproduces

    /// An `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]…`.
    public struct AlternativeInstall: Hashable, Sendable {
        /// The generic name (`awk`).
        public var name: String
        /// The master link (`/usr/bin/awk`).
        public var link: String
        /// The alternative's file (`/usr/bin/mawk`).
        public var path: String
        /// Its priority.
        public var priority: Int
        /// The slave links: name, link, path.
        public var slaves: [Slave]

        /// A slave link of an alternative.
        public struct Slave: Hashable, Sendable {
            /// The slave's generic name (`awk.1.gz`).
            public var name: String
            /// Its link (`/usr/share/man/man1/awk.1.gz`).
            public var link: String
            /// The file it points to for this alternative.
            public var path: String
        }
    }

    /// The `update-alternatives --install` commands whose words are all literals, in order.
    public var alternativeInstalls: [AlternativeInstall] {
        commands.compactMap { command in
            guard command.words.first == "update-alternatives" else { return nil }
            let words = command.words.dropFirst().filter { $0 != "--quiet" && $0 != "--verbose" && $0 != "--force" }
            guard let install = words.firstIndex(of: "--install") else { return nil }
            let rest = Array(words[(install + 1)...])
            guard rest.count >= 4, let link = rest[0], let name = rest[1], let path = rest[2], let priority = rest[3].flatMap({ Int($0) }) else {
                return nil
            }
            var slaves: [AlternativeInstall.Slave] = []
            var index = 4
            while index + 3 < rest.count + 0, rest[index] == "--slave" {
                guard let slaveLink = rest[index + 1], let slaveName = rest[index + 2], let slavePath = rest[index + 3] else { return nil }
                slaves.append(AlternativeInstall.Slave(name: slaveName, link: slaveLink, path: slavePath))
                index += 4
            }
            return AlternativeInstall(name: name, link: link, path: path, priority: priority, slaves: slaves)
        }
    }

    /// The files registered with ucf's registry (`ucfr PACKAGE PATH`), with the package named
    /// in the command, and whether the script keeps a copy for three-way merges
    /// (`ucf --three-way … PATH`).
    public var ucfRegistrations: [(package: String, path: String, threeWay: Bool)] {
        let threeWay = Set(commands.compactMap { command -> String? in
            guard command.words.first == "ucf", command.words.contains("--three-way"), let last = command.words.last else { return nil }
            return last
        })
        return commands.compactMap { command in
            guard command.words.first == "ucfr" else { return nil }
            let arguments = command.words.dropFirst().filter { !($0?.hasPrefix("-") ?? false) }
            guard arguments.count == 2, let package = arguments.first!, let path = arguments.last! else { return nil }
            return (package, path, threeWay.contains(path))
        }
    }

    /// Files the script writes from a here-document when they do not exist yet
    /// (`cat > /etc/hosts.allow <<EOF … EOF`): the absolute path and the text, leading tabs
    /// removed for `<<-`.
    public var hereDocuments: [(path: String, text: String)] {
        var found: [(String, String)] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let cat = words.firstIndex(of: "cat"), cat + 2 < words.count, words[cat + 1] == ">",
                  words[cat + 2].hasPrefix("/"), cat + 3 < words.count, words[cat + 3].hasPrefix("<<") else { continue }
            let stripTabs = words[cat + 3].hasPrefix("<<-")
            var delimiter = String(words[cat + 3].dropFirst(stripTabs ? 3 : 2))
            if delimiter.isEmpty, cat + 4 < words.count { delimiter = words[cat + 4] }
            delimiter = String(delimiter.filter { $0 != "'" && $0 != "\"" })
            var body: [String] = []
            while index < lines.count {
                let next = stripTabs ? String(lines[index].drop { $0 == "\t" }) : lines[index]
                index += 1
                if next == delimiter { break }
                body.append(next)
            }
            // An unquoted delimiter expands `$…` in the body: such a text is not a literal.
            let quoted = words[cat + 3].contains("'") || words[cat + 3].contains("\"") || (cat + 4 < words.count && words[cat + 4].contains("'"))
            if !quoted, body.contains(where: { $0.contains("$") || $0.contains("`") }) { continue }
            found.append((words[cat + 2], body.map { $0 + "\n" }.joined()))
        }
        return found
    }

    /// `install_from_default SOURCE DEST` calls with absolute literal paths (libc-bin's and
    /// readline-common's `postinst`: copy a shipped default when the file does not exist).
    public var defaultCopies: [(source: String, destination: String)] {
        commands.compactMap { command in
            guard command.words.count == 3, command.words[0] == "install_from_default",
                  let source = command.words[1], let destination = command.words[2],
                  source.hasPrefix("/"), destination.hasPrefix("/") else { return nil }
            return (source, destination)
        }
    }
}
