/// update-alternatives(1)'s state for the alternatives that packages' `postinst` scripts
/// register with `update-alternatives --install`, computed instead of run: the administrative
/// records in `/var/lib/dpkg/alternatives/NAME`, the links `/etc/alternatives/NAME → PATH` and
/// the generic links (`/usr/bin/awk → /etc/alternatives/awk`), every group in auto mode, the
/// choice with the highest priority selected — what dpkg leaves after configuring the packages.
public struct Alternatives: Sendable {
    /// One link group: the master link, its slaves and every registered choice.
    public struct Group: Hashable, Sendable {
        /// The generic name.
        public var name: String
        /// The master link.
        public var link: String
        /// The slaves of every choice: name → link, in name order.
        public var slaves: [(name: String, link: String)] {
            slaveLinks.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { ($0.key, $0.value) }
        }
        /// The choices, by path.
        public var choices: [String: Choice] = [:]
        var slaveLinks: [String: String] = [:]

        /// A registered alternative: its priority and the path of each of its slaves.
        public struct Choice: Hashable, Sendable {
            /// The priority.
            public var priority: Int
            /// Slave name → path.
            public var slavePaths: [String: String]
        }

        /// Choices in the order update-alternatives keeps them (by path).
        var sortedChoices: [(path: String, choice: Choice)] {
            choices.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { ($0.key, $0.value) }
        }

        /// The choice auto mode selects: the highest priority (the first by path among equals).
        public var best: (path: String, choice: Choice)? {
            sortedChoices.reduce(nil) { best, next in
                guard let best else { return next }
                return next.choice.priority > best.choice.priority ? next : best
            }
        }

        /// The administrative file, as update-alternatives writes it: mode, master link, slave
        /// name/link pairs, a blank line, then per choice its path, priority and slave paths
        /// (empty where the choice has none), and a closing blank line.
        public var record: String {
            var lines = ["auto", link]
            for slave in slaves { lines += [slave.name, slave.link] }
            lines.append("")
            for (path, choice) in sortedChoices {
                lines += [path, String(choice.priority)]
                for slave in slaves { lines.append(choice.slavePaths[slave.name] ?? "") }
            }
            lines.append("")
            return lines.map { $0 + "\n" }.joined()
        }
    }

    /// The groups, by name.
    public private(set) var groups: [String: Group] = [:]

    /// No groups.
    public init() {}

    /// Registers an `--install` as dpkg would when the package is configured: a choice whose
    /// file does not exist is refused by update-alternatives (the script fails), so it is left
    /// out here; the master link of a group is the one its first registration named.
    public mutating func register(_ install: MaintainerScript.AlternativeInstall, exists: (String) -> Bool) {
        guard exists(install.path) else { return }
        var group = groups[install.name] ?? Group(name: install.name, link: install.link)
        var paths: [String: String] = [:]
        for slave in install.slaves {
            group.slaveLinks[slave.name] = group.slaveLinks[slave.name] ?? slave.link
            paths[slave.name] = slave.path
        }
        group.choices[install.path] = Group.Choice(priority: install.priority, slavePaths: paths)
        groups[install.name] = group
    }
}
