import Glibc
import Layers
import SystemSupport

/// Unpacks Debian packages into a component tree the way `dpkg --unpack` would on a
/// merged-/usr system, without running maintainer scripts, and records them in the tree's
/// dpkg database (`var/lib/dpkg/info`).
///
/// - Paths under `bin/`, `sbin/`, `lib/`, `lib32/`, `lib64/` and `libx32/` are written under
///   `usr/` (Debian bookworm is merged-/usr: those top-level names are symlinks that the base
///   layer provides, see ``SystemFixups/applyBase(root:)``), and paths under `var/run/` and
///   `var/lock/` under `run/` and `run/lock/` (base-files' postinst makes those symlinks); the
///   entries for these directories themselves are skipped (see ``redirectedDirectories``), so
///   that no layer holds a real directory where the image has a symlink. Hard-link targets are
///   rewritten the same way; symlink targets are kept as they are, as dpkg keeps them.
/// - Modes (setuid included), numeric owners, symlinks, hard links and fifos are kept (owners
///   only when running as root). A directory entry where the tree has a symlink to a
///   directory keeps the symlink, as dpkg does.
/// - Each package is checked whole before anything of it is written: an entry with an
///   absolute path, a `..` component, a symlink whose target climbs above the root, a hard
///   link to a file the package does not hold, a device node, or a path that would be
///   written through a symlink leading outside the tree fails the package with
///   ``RootfsError/unsafeDebEntry(deb:entry:reason:)``. Nothing is ever written outside `root`.
/// - `var/lib/dpkg/info/NAME.list` gets the package's paths as dpkg records them (`/.`,
///   `/bin`, `/bin/hello`, …: the archive's own paths, in archive order), `NAME.md5sums` and
///   `NAME.conffiles` are copied from the control archive (`NAME:ARCH.*` for `Multi-Arch: same`).
///
/// The status file is not written here: see ``DebLayerBuilder`` and ``DpkgDatabase``.
public struct DebUnpacker: Sendable {
    /// The tree packages are unpacked into.
    public let root: String

    /// The top-level directories that are symlinks into `usr/` on a merged-/usr system.
    public static let mergedDirectories: Set<String> = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]

    /// Directories that are symlinks in a finished image, made by the base layer's fixups:
    /// path → where it leads (`bin` → `usr/bin`, `var/run` → `run`). Entries below them are
    /// unpacked where the link leads.
    public static var redirectedDirectories: [String: String] {
        Dictionary(uniqueKeysWithValues: redirects.map { ($0.from.joined(separator: "/"), $0.to.joined(separator: "/")) })
    }

    /// A directory the image has as a symlink: its path, where it leads, and the link's text.
    struct Redirect {
        var from: [String]
        var to: [String]
        var link: String
    }

    /// Merged /usr (relative links, as debootstrap and usrmerge make them), and base-files'
    /// `migrate_directory /var/run /run` and `/var/lock /run/lock` (absolute links, as it makes them).
    static let redirects: [Redirect] =
        mergedDirectories.sorted().map { Redirect(from: [$0], to: ["usr", $0], link: "usr/" + $0) } + [
            Redirect(from: ["var", "run"], to: ["run"], link: "/run"),
            Redirect(from: ["var", "lock"], to: ["run", "lock"], link: "/run/lock"),
        ]

    /// An unpacker for the tree at `root` (an existing directory).
    public init(root: String) {
        self.root = root
    }

    /// Unpacks the `.deb` at `path` into the tree and writes its `info` files; returns the
    /// package's record.
    @discardableResult
    public func unpack(_ path: String) throws -> DebPackage { try unpackReadingFacts(path).package }

    /// ``unpack(_:)``, also returning what the package declares about itself — the same
    /// ``PackageFacts`` as `PackageFacts(deb:)`, read from its copyright file as it is written
    /// rather than by decompressing `data.tar` once more.
    public func unpackReadingFacts(_ path: String) throws -> (package: DebPackage, facts: PackageFacts) {
        let tree = try DebRootTree(root: root)
        let archive = try DebArchive(path: path)
        let control = try DebControlMembers(archive)
        let data = try archive.decompressedData()
        let plan = try DebUnpackPlan(archive: archive, data: data, tree: tree, conffiles: Set(control.conffilePaths))
        let written = try extract(archive, data: data, plan: plan, tree: tree, copyright: PackageFacts.copyrightPath(of: control.package))
        let package = control.package(conffileHashes: written.conffileHashes)
        try DpkgDatabase.prepare(root: root)
        try DpkgDatabase.writeInfo(tree: tree, package: package, list: plan.list, md5sums: control.md5sums, conffiles: control.conffiles, other: control.otherFiles)
        let facts = written.copyrightSkipped ? try PackageFacts(deb: path) : PackageFacts(control: control.package, copyright: written.copyright)
        return (package, facts)
    }

    // MARK: data.tar

    /// Second pass: writes the planned entries with ``DiskWriter`` (modes, setuid included,
    /// and, as root, numeric owners, all set explicitly). Returns the MD5 of each conffile
    /// written (by its absolute path in the image), and the bytes of the first entry named
    /// `copyright` (normalised) when it is a regular file within ``PackageFacts/copyrightLimit``.
    private func extract(
        _ archive: DebArchive, data: DebDataTar, plan: DebUnpackPlan, tree: DebRootTree, copyright: String
    ) throws -> (conffileHashes: [String: String], copyright: [UInt8]?, copyrightSkipped: Bool) {
        // Paths arrive resolved (no symlink in a parent, see DebUnpackPlan); the writer refuses
        // one anyway, as a second line of defence, and makes a parent the package does not
        // list (usr/lib64 when only ./lib64/ is listed, which merged /usr redirects) with
        // mode 0755, as dpkg makes it.
        let writer = DiskWriter(root: tree.root, owners: true)
        let stream = try data.open()
        var hashes: [String: String] = [:]
        var copyrightSeen = false
        var copyrightSkipped = false
        var copyrightBytes: [UInt8]?
        var index = 0
        while let header = try stream.next() {
            defer { index += 1 }
            guard index < plan.steps.count, header.name == plan.steps[index].name else {
                throw RootfsError.invalidDeb(deb: archive.path, reason: "data.tar changed between two reads")
            }
            // The first entry of that name is the one `PackageFacts(deb:)` reads.
            var keepsCopyright = false
            if !copyrightSeen, TreePath.components(of: header.name).joined(separator: "/") == copyright {
                copyrightSeen = true
                keepsCopyright = header.kind == .regular && header.size <= Int64(PackageFacts.copyrightLimit)
                if keepsCopyright { copyrightBytes = [] }
            }
            let step = plan.steps[index]
            guard let target = step.path else {
                // Not written here: `PackageFacts(deb:)` reads it from the package instead.
                if keepsCopyright { copyrightBytes = nil; copyrightSkipped = true }
                continue
            }
            let path = target.joined(separator: "/")
            let owner = DiskWriter.Owner(uid: header.uid, gid: header.gid)
            do {
                switch header.kind {
                case .directory:
                    try writer.directory(path, mode: header.mode, owner: owner)
                case .regular:
                    var md5 = step.conffile != nil ? DebMD5() : nil
                    try writer.file(path, mode: header.mode, owner: owner, size: header.size) { write in
                        try stream.readBlocks { block, offset in
                            md5?.update(block)
                            if keepsCopyright { copyrightBytes?.append(contentsOf: block) }
                            try write(block, offset)
                        }
                    }
                    if let conffile = step.conffile, var md5 { hashes[conffile] = md5.finalize() }
                case .hardlink:
                    guard let existing = step.hardlinkTarget else { continue }
                    try writer.hardlink(path, to: existing.joined(separator: "/"))
                case .symlink:
                    try writer.symlink(path, target: header.linkTarget, owner: owner)
                case .fifo:
                    try writer.special(path, kind: .fifo, mode: header.mode, owner: owner)
                case .device, .other:
                    // Refused by the plan.
                    throw RootfsError.unsafeDebEntry(deb: archive.path, entry: header.name, reason: "not a file, directory, link or fifo")
                }
            } catch let error as LayerError {
                // "PACKAGE.deb: ./usr/bin/x: ROOT/usr/bin/x: Permission denied"
                throw RootfsError.io(path: archive.path, reason: "\(header.name): \(error)")
            }
        }
        guard index == plan.steps.count else {
            throw RootfsError.invalidDeb(deb: archive.path, reason: "data.tar changed between two reads")
        }
        // Directory modes last, so that a read-only directory can still be filled.
        do {
            try writer.finish()
        } catch let error as LayerError {
            throw RootfsError.io(path: archive.path, reason: "\(error)")
        }
        return (hashes, copyrightBytes, copyrightSkipped)
    }
}

/// First pass over a package's data.tar: every entry checked, and where it goes decided,
/// before anything is written.
struct DebUnpackPlan {
    /// What to do with one entry.
    struct Step {
        /// The entry's name as stored.
        var name: String
        /// Where it goes (physical, relative to the root); nil to skip it.
        var path: [String]?
        /// For a hard link: where its target went.
        var hardlinkTarget: [String]?
        /// For a conffile: its absolute path in the image (its MD5 is taken while writing).
        var conffile: String?
    }

    /// One step per entry, in archive order.
    private(set) var steps: [Step] = []
    /// The package's paths as dpkg lists them.
    private(set) var list: [String] = []

    init(archive: DebArchive, data: DebDataTar, tree: DebRootTree, conffiles: Set<String>) throws {
        // What this package's earlier entries will have made, by physical path.
        var overlay: [[String]: DebRootTree.Node] = [:]
        // Regular files written so far, by original path: where they went (hard-link targets).
        var regularFiles: [String: [String]] = [:]
        let stream = try data.open()
        while let header = try stream.next() {
            func refuse(_ reason: String) -> RootfsError {
                .unsafeDebEntry(deb: archive.path, entry: header.name, reason: reason)
            }
            // "absolute path", "the path contains '..'".
            let member: TreePath
            do {
                member = try TreePath(member: header.name)
            } catch {
                throw refuse(error.description)
            }
            let original = member.components
            list.append(member.isRoot ? "/." : member.absolute)
            var step = Step(name: header.name)
            defer { steps.append(step) }

            switch header.kind {
            case .device: throw refuse("device node (a container gets its devices from the runtime)")
            case .other: throw refuse("unsupported entry type (only files, directories, links and fifos may be unpacked)")
            default: break
            }
            if original.isEmpty {
                guard header.kind == .directory else { throw refuse("the root entry is not a directory") }
                continue
            }

            // Merged /usr: bin/x is usr/bin/x, bin itself is the base layer's symlink (and so
            // for var/run and var/lock).
            var parts = original
            if let redirect = DebUnpacker.redirects.first(where: { original.starts(with: $0.from) }) {
                if original.count == redirect.from.count {
                    if header.kind == .directory { continue }
                    if header.kind == .symlink, member.parent.resolving(linkTarget: header.linkTarget)?.components == redirect.to { continue }
                    let from = redirect.from.joined(separator: "/")
                    let to = redirect.to.joined(separator: "/")
                    throw refuse("'/\(from)' is a symlink to '/\(to)' in the image (the base layer makes it)")
                }
                parts = redirect.to + original.dropFirst(redirect.from.count)
            }

            let overlayLookup: ([String]) -> DebRootTree.Node? = { overlay[$0] }
            let parent: TreePath
            do {
                parent = try tree.resolve(Array(parts.dropLast()), followLast: true, overlay: overlayLookup)
            } catch {
                throw refuse("it would be written through a symlink: \(error)")
            }
            let physical = parent.components + [parts[parts.count - 1]]
            let existing = overlay[physical] ?? tree.node(physical)
            let shown = "/" + physical.joined(separator: "/")

            switch header.kind {
            case .directory:
                switch existing {
                case .directory, .missing:
                    overlay[physical] = .directory
                case .symlink:
                    // dpkg keeps a symlink to a directory where a package ships the directory.
                    let resolved: [String]
                    do {
                        resolved = try tree.resolve(physical, followLast: true, overlay: overlayLookup).components
                    } catch {
                        throw refuse("'\(shown)' is a symlink, and \(error)")
                    }
                    if (overlay[resolved] ?? tree.node(resolved)) == .directory { continue }
                    overlay[physical] = .directory
                case .regular, .other:
                    throw refuse("'\(shown)' is already a file in the tree")
                }
            default:
                if existing == .directory { throw refuse("it would replace the directory '\(shown)'") }
                switch header.kind {
                case .symlink:
                    let target = header.linkTarget
                    if target.isEmpty { throw refuse("symlink with an empty target") }
                    // Checked from where the package put the link and from where it lands.
                    for directory in [member.parent, parent] where directory.resolving(linkTarget: target) == nil {
                        throw refuse("symlink to '\(target)' leads outside the root")
                    }
                    overlay[physical] = .symlink(target: target)
                case .hardlink:
                    let target = header.linkTarget
                    // Absolute or with a `..` part.
                    guard let linked = try? TreePath(member: target) else {
                        throw refuse("hard link to '\(target)' points outside the package")
                    }
                    guard let written = regularFiles[linked.relative] else {
                        throw refuse("hard link to '\(target)', which is not a regular file earlier in this package")
                    }
                    step.hardlinkTarget = written
                    regularFiles[member.relative] = physical
                    overlay[physical] = .regular
                case .regular:
                    regularFiles[member.relative] = physical
                    overlay[physical] = .regular
                    if conffiles.contains(member.absolute) { step.conffile = member.absolute }
                default:
                    overlay[physical] = .other
                }
            }
            step.path = physical
        }
    }
}

