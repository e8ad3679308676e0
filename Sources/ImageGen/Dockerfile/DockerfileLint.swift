import Foundation

/// Checks that a Dockerfile pins everything it installs — the rules imagegen's own Dockerfiles
/// keep, and that `imagegen dockerfile` applies to a user's template too:
///
/// - the base is pinned by digest (`FROM …@sha256:`, or `ARG NAME=…@sha256:` for `FROM ${NAME}`)
///   and never names `latest`;
/// - every `apt-get install` names `PACKAGE=VERSION` only, with `--no-install-recommends`, and its
///   `RUN` removes `/var/lib/apt/lists/*`; the packages of one architecture that it takes as
///   `$imagegen_debs` are assigned `PACKAGE=VERSION` only;
/// - every `pip install` has `--require-hashes`, `--no-deps` and `--only-binary=:all:`, installs
///   from requirements files (`-r FILE`) only, and each such file of the context pins every
///   line as `NAME==VERSION --hash=sha256:HEX`;
/// - no `ADD` of a remote URL.
public enum DockerfileLint {
    /// One broken rule, at a line of the Dockerfile (1-based; the first line of an instruction
    /// that spans several).
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The shell variable that holds one architecture's packages in a multi-platform Dockerfile.
    static let platformDebsVariable = "imagegen_debs"

    /// The problems of `dockerfile`; `contextFile` reads a requirements file of the build
    /// context by the path the Dockerfile names (nil: not in the context).
    public static func check(_ dockerfile: String, contextFile: (String) -> String? = { _ in nil }) -> [Problem] {
        var problems: [Problem] = []
        var arguments: [String: String] = [:]
        for (line, instruction) in instructions(dockerfile) {
            let words = instruction.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            let rest = Array(words.dropFirst())
            switch keyword {
            case "ARG":
                for word in rest {
                    let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { arguments[parts[0]] = parts[1].trimmingCharacters(in: ["\""]) }
                }
            case "FROM":
                guard var image = rest.first(where: { !$0.hasPrefix("--") }) else { continue }
                for (name, value) in arguments {
                    image = image.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
                }
                if image == "scratch" { continue }
                if image.contains("$") {
                    problems.append(Problem(line: line, message: "FROM \(image): the base comes from an argument with no pinned default"))
                } else if !image.contains("@sha256:") {
                    problems.append(Problem(line: line, message: "FROM \(image): the base is not pinned by digest (IMAGE@sha256:…)"))
                }
                if image.split(separator: "@")[0].hasSuffix(":latest") {
                    problems.append(Problem(line: line, message: "FROM \(image): names the tag latest"))
                }
            case "ADD":
                for word in rest where ["http://", "https://", "git@", "ftp://"].contains(where: word.hasPrefix) {
                    problems.append(Problem(line: line, message: "ADD \(word): a remote URL is neither pinned nor verified; fetch it with a hash check in RUN"))
                }
            case "RUN":
                problems += checkRun(instruction, line: line, contextFile: contextFile)
            default:
                continue
            }
        }
        return problems
    }

    /// The rules for one `RUN`.
    static func checkRun(_ instruction: String, line: Int, contextFile: (String) -> String?) -> [Problem] {
        var problems: [Problem] = []
        // Commands are split at `;`, `&&`, `||` and `|`.
        let commands = instruction.replacingOccurrences(of: "&&", with: ";").replacingOccurrences(of: "||", with: ";")
            .replacingOccurrences(of: "|", with: ";").split(separator: ";")
            .map { $0.split(whereSeparator: \.isWhitespace).map { $0.trimmingCharacters(in: ["\"", "'"]) } }
        var installsDebs = false
        for words in commands {
            if let apt = words.firstIndex(where: { $0 == "apt-get" || $0 == "apt" }),
               let install = words[apt...].firstIndex(of: "install") {
                installsDebs = true
                let arguments = words[(install + 1)...]
                if !arguments.contains("--no-install-recommends") {
                    problems.append(Problem(line: line, message: "apt-get install without --no-install-recommends"))
                }
                for package in arguments where !package.hasPrefix("-") && !package.contains("=") && package != "$" + platformDebsVariable {
                    problems.append(Problem(line: line, message: "apt-get install \(package): not pinned (PACKAGE=VERSION)"))
                }
            }
            // One architecture's packages: `imagegen_debs=" PACKAGE=VERSION…"` in a `case` branch on
            // `dpkg --print-architecture`, which `apt-get install` takes as `$imagegen_debs`:
            // pinned like the others.
            if let assignment = words.firstIndex(where: { $0.hasPrefix(platformDebsVariable + "=") }) {
                let first = String(words[assignment].dropFirst(platformDebsVariable.count + 1))
                for package in ([first] + words[(assignment + 1)...]).map({ $0.trimmingCharacters(in: ["\"", "'"]) })
                where !package.isEmpty && !package.contains("=") {
                    problems.append(Problem(line: line, message: "apt-get install \(package): not pinned (PACKAGE=VERSION)"))
                }
            }
            if let pip = words.firstIndex(where: { $0 == "pip" || $0 == "pip3" || $0.hasSuffix("/pip") || $0.hasSuffix("/pip3") }),
               words.indices.contains(pip + 1), words[pip + 1] == "install" {
                problems += checkPip(Array(words[(pip + 2)...]), line: line, contextFile: contextFile)
            }
        }
        if installsDebs, !instruction.contains("rm -rf /var/lib/apt/lists/*") {
            problems.append(Problem(line: line, message: "apt-get install in a RUN that does not remove /var/lib/apt/lists/*"))
        }
        return problems
    }

    /// The rules for one `pip install`'s arguments.
    static func checkPip(_ arguments: [String], line: Int, contextFile: (String) -> String?) -> [Problem] {
        var problems: [Problem] = []
        for flag in ["--require-hashes", "--no-deps", "--only-binary=:all:"] where !arguments.contains(flag) {
            problems.append(Problem(line: line, message: "pip install without \(flag)"))
        }
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "-r" || word == "--requirement" || word == "-c" || word == "--constraint" {
                index += 1
                if word.hasPrefix("-r") || word == "--requirement", index < arguments.count {
                    problems += checkRequirements(arguments[index], line: line, contextFile: contextFile)
                }
            } else if word.hasPrefix("-") {
                // An option that takes a value in the next word.
                if ["-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--target", "--prefix", "--root"].contains(word) { index += 1 }
            } else {
                problems.append(Problem(line: line, message: "pip install \(word): install from a requirements file with hashes, not by name"))
            }
            index += 1
        }
        return problems
    }

    /// Every line of a requirements file pinned with a hash.
    static func checkRequirements(_ path: String, line: Int, contextFile: (String) -> String?) -> [Problem] {
        guard let text = contextFile(path) else {
            return [Problem(line: line, message: "pip install -r \(path): the file is not in the build context")]
        }
        var problems: [Problem] = []
        for (number, requirement) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = requirement.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = content.split(whereSeparator: \.isWhitespace)
            guard let pin = words.first else { continue }
            let hashes = words.dropFirst().filter { $0.hasPrefix("--hash=sha256:") && $0.count == "--hash=sha256:".count + 64 }
            if !pin.contains("==") || pin.contains("*") {
                problems.append(Problem(line: line, message: "\(path):\(number + 1): \(pin) is not pinned (NAME==VERSION)"))
            }
            if hashes.isEmpty {
                problems.append(Problem(line: line, message: "\(path):\(number + 1): \(pin) has no --hash=sha256:"))
            }
        }
        return problems
    }

    /// The instructions of a Dockerfile with the line each starts on: continuation lines
    /// (`\` at the end) joined, comments and blank lines dropped.
    static func instructions(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var current: String?
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && current == nil) { continue }
            if current == nil { start = index + 1 }
            let continued = line.hasSuffix("\\")
            current = (current.map { $0 + " " } ?? "") + (continued ? String(line.dropLast()) : line)
            if !continued {
                result.append((start, current!))  // set just above
                current = nil
            }
        }
        if let current { result.append((start, current)) }
        return result
    }
}
