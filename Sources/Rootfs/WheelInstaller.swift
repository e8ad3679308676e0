import Glibc
import ImageModel
import Layers
import OCI
import SystemSupport

/// A wheel installed into a tree.
public struct InstalledWheel: Hashable, Sendable {
    /// The distribution's name as its `METADATA` spells it.
    public var name: String
    /// Its version, from `METADATA`.
    public var version: PEP440Version
    /// The `.dist-info` directory, relative to the tree's root.
    public var distInfo: String
    /// Every file the wheel installed, relative to the tree's root, in byte order: its
    /// members, launchers, `INSTALLER` and `RECORD`. A file that an earlier wheel had already
    /// installed byte for byte (a namespace package's `__init__.py`) is listed by both.
    public var files: [String]
    /// The files this wheel wrote whose bytes are exactly a deflated member of the wheel, by
    /// tree-relative path: a gzip layer can carry those streams as they are
    /// (`LayerEntry.Content.deflated`). Scripts whose first line was rewritten are not here.
    public var deflatedSources: [String: DeflatedSource] = [:]
}

/// Installs wheels into the venv of a component tree, as pip would into `/opt/venv`, following
/// the binary distribution format (PEP 427 and its successors at packaging.python.org):
///
/// - members at the root and `NAME-VER.data/purelib|platlib/…` → `opt/venv/lib/python3.X/site-packages/`
/// - `NAME-VER.data/scripts/…` → `opt/venv/bin/`, a `#!python` first line rewritten to
///   `#!/opt/venv/bin/python3.X`, mode 0755
/// - `NAME-VER.data/headers/…` → `opt/venv/include/site/python3.X/NAME/`
/// - `NAME-VER.data/data/…` → `opt/venv/`
/// - `console_scripts` and `gui_scripts` entry points → launchers in `opt/venv/bin/`, as pip writes them
/// - `INSTALLER` (`imagegen`) and a rewritten `RECORD` listing every installed file
///
/// Files get mode 0755 if the zip gives them any executable bit, else 0644; directories
/// 0755. Every member is checked against the hash and size the wheel's own `RECORD` lists for
/// it. Members with absolute paths or `..`, symlinks, and writes through symlinks in the tree
/// are refused: nothing is written outside the tree. A file that is already in the tree (from
/// another wheel, say) is refused unless it is byte-identical. Contents are streamed: memory
/// does not grow with a member's size. No `.pyc` files are compiled.
///
/// An install that fails removes what it had written. Install one wheel at a time into a tree.
public struct WheelInstaller: Sendable {
    /// Where the venv's directories are.
    public let layout: VenvLayout

    /// An installer for the interpreter `python` (`3.11` or `3.11.2`: only `MAJOR.MINOR` matters).
    public init(python: PythonVersion) { layout = VenvLayout(python: python) }

    /// The largest metadata file (`METADATA`, `RECORD`, …) read into memory.
    static let metadataLimit = 64 << 20

    /// Installs the wheel file at `wheel` into the tree at `root` (an existing directory).
    ///
    /// With `placeholders`, a file whose bytes are a deflated member listed in `RECORD` with a
    /// SHA-256 is not inflated here: it is made with its size and mode but no data written (a
    /// sparse file), and its stream — carrying that SHA-256 — is in `deflatedSources`. That is
    /// for a caller that packs the tree and takes those files' content from their streams
    /// (checking CRC-32, size and SHA-256 as it inflates them); the tree itself is then not a
    /// usable install. `streams` are the sources of placeholders that earlier wheels left in
    /// the same tree, so that a file two wheels install byte for byte is recognised.
    public func install(
        wheel: String, into root: String, placeholders: Bool = false, streams: [String: DeflatedSource] = [:]
    ) throws -> InstalledWheel {
        let wheelName = wheel.split(separator: "/").last.map(String.init) ?? wheel
        let scan = try WheelScan(path: wheel, wheel: wheelName)
        let plan = try WheelPlan(scan: scan, layout: layout, wheel: wheelName)
        let writer = try VenvTreeWriter(root: root)
        do {
            var installation = Installation(plan: plan, layout: layout, writer: writer, wheel: wheelName)
            installation.placeholders = placeholders
            installation.earlierStreams = streams
            let files = try installation.run(path: wheel)
            return InstalledWheel(
                name: plan.name, version: plan.version, distInfo: "\(layout.sitePackages)/\(plan.distInfo)", files: files,
                deflatedSources: installation.deflatedSources)
        } catch {
            writer.rollback()
            throw error
        }
    }
}

/// What the first pass over a wheel learns: every member's header and the `.dist-info` files
/// that say how to install the rest.
struct WheelScan {
    /// The members, in the zip's order.
    var members: [WheelArchive.Member] = []
    /// The `.dist-info` directory's name.
    var distInfo: String
    /// `WHEEL`, `METADATA`, `RECORD` and `entry_points.txt`, by file name, where present.
    var metadata: [String: [UInt8]] = [:]

    init(path: String, wheel: String) throws {
        let archive = try WheelArchive(path: path, wheel: wheel)
        var distInfos: Set<String> = []
        var seen: Set<String> = []
        let wanted: Set<String> = ["WHEEL", "METADATA", "RECORD", "entry_points.txt"]
        while let member = try archive.next() {
            guard seen.insert(member.name).inserted else {
                throw RootfsError.unsafeWheelEntry(wheel: wheel, entry: member.name, reason: "appears twice in the zip")
            }
            members.append(member)
            let parts = member.name.split(separator: "/")
            guard let top = parts.first, top.hasSuffix(".dist-info"), !member.name.hasPrefix("/") else { continue }
            distInfos.insert(String(top))
            if parts.count == 2, member.kind == .file, wanted.contains(String(parts[1])) {
                guard let bytes = try archive.readAll(limit: WheelInstaller.metadataLimit) else {
                    throw RootfsError.invalidWheel(
                        wheel: wheel, reason: "\(member.name) is larger than \(WheelInstaller.metadataLimit >> 20) MiB")
                }
                metadata["\(top)/\(parts[1])"] = bytes
            }
        }
        guard distInfos.count == 1, let distInfo = distInfos.first else {
            let found = distInfos.isEmpty ? "none" : distInfos.sorted().joined(separator: ", ")
            throw RootfsError.invalidWheel(wheel: wheel, reason: "expected one top-level .dist-info directory, found \(found)")
        }
        self.distInfo = distInfo
        let prefix = distInfo + "/"
        metadata = Dictionary(uniqueKeysWithValues: metadata.compactMap { key, value in
            key.hasPrefix(prefix) ? (String(key.dropFirst(prefix.count)), value) : nil
        })
    }
}

/// Where each member goes, decided before anything is written.
struct WheelPlan {
    /// What to do with one member.
    enum Placement {
        /// Copy to `path` (tree-relative) with `mode`; a script gets its `#!python` line rewritten.
        case file(path: String, mode: mode_t, script: Bool)
        /// Make the directory `path`.
        case directory(path: String)
        /// Leave out (the wheel's `RECORD` and `INSTALLER`, which are written anew).
        case skip
    }

    var name: String
    var version: PEP440Version
    var distInfo: String
    /// Placements by member name.
    var placements: [String: Placement] = [:]
    /// The members' `RECORD` rows by path.
    var record: [String: WheelRecord.Row] = [:]
    /// Launchers to write.
    var scripts: [EntryPointScript] = []

    init(scan: WheelScan, layout: VenvLayout, wheel: String) throws {
        distInfo = scan.distInfo
        guard let wheelFile = scan.metadata["WHEEL"] else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(distInfo)/WHEEL is missing")
        }
        let wheelFields = MetadataFields(wheelFile)
        // "A wheel installer should warn if Wheel-Version is greater than the version it
        // supports, and must fail if Wheel-Version has a greater major version."
        guard let wheelVersion = wheelFields["Wheel-Version"], wheelVersion.split(separator: ".").first == "1" else {
            throw RootfsError.invalidWheel(
                wheel: wheel, reason: "\(distInfo)/WHEEL: Wheel-Version '\(wheelFields["Wheel-Version"] ?? "")' is not 1.x")
        }
        guard let metadataFile = scan.metadata["METADATA"] else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(distInfo)/METADATA is missing")
        }
        let fields = MetadataFields(metadataFile)
        guard let name = fields["Name"], let versionText = fields["Version"] else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(distInfo)/METADATA lacks Name or Version")
        }
        // The name becomes a directory under include/site: a PEP 508 name is safe there.
        let nameOK = name.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && name.last.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        guard nameOK else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "METADATA Name '\(name)' is not a valid distribution name")
        }
        // pip's check: the .dist-info directory is named after the distribution.
        guard WheelFormat.canonicalName(String(distInfo.dropLast(".dist-info".count))).hasPrefix(WheelFormat.canonicalName(name)) else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(distInfo) is not named after the distribution '\(name)'")
        }
        do {
            version = try PEP440Version(parsing: versionText)
        } catch {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "METADATA Version: \(error)")
        }
        self.name = name
        guard let recordFile = scan.metadata["RECORD"] else {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(distInfo)/RECORD is missing")
        }
        for row in try WheelRecord(parsing: recordFile, wheel: wheel).rows { record[row.path] = row }
        if let entryPoints = scan.metadata["entry_points.txt"] {
            scripts = try EntryPointScript.parse(entryPoints, wheel: wheel)
        }

        let dataDir = String(distInfo.dropLast(".dist-info".count)) + ".data"
        var destinations: [String: String] = [:]  // tree path → what puts a file there
        func claim(_ path: String, by what: String) throws {
            if let other = destinations[path] {
                throw RootfsError.invalidWheel(wheel: wheel, reason: "\(other) and \(what) both install \(path)")
            }
            destinations[path] = what
        }
        try claim("\(layout.sitePackages)/\(distInfo)/RECORD", by: "RECORD")
        try claim("\(layout.sitePackages)/\(distInfo)/INSTALLER", by: "INSTALLER")

        for member in scan.members {
            let unsafe = { (reason: String) in RootfsError.unsafeWheelEntry(wheel: wheel, entry: member.name, reason: reason) }
            let parts: [String]
            do {
                parts = try TreePath(member: member.name).components
            } catch {
                switch error {
                case .absolute: throw unsafe("absolute path")
                case .climbs: throw unsafe("path contains '..'")
                }
            }
            if parts.contains(where: { !WheelFormat.isSafeFileName($0) }) || parts.isEmpty { throw unsafe("not a usable path") }
            switch member.kind {
            case .file, .directory: break
            case .symlink: throw unsafe("is a symlink; wheels install regular files only")
            case .other: throw unsafe("is not a regular file or a directory")
            }
            if parts.count == 2, parts[0] == distInfo, parts[1] == "RECORD" || parts[1] == "INSTALLER" {
                placements[member.name] = .skip
                continue
            }
            var target: String
            var script = false
            if parts[0] == dataDir {
                guard parts.count > 2 else {
                    if member.kind == .directory {
                        placements[member.name] = .skip
                        continue
                    }
                    throw unsafe("a file directly in \(dataDir)/ belongs to no install scheme")
                }
                let rest = parts[2...].joined(separator: "/")
                switch parts[1] {
                case "purelib", "platlib": target = "\(layout.sitePackages)/\(rest)"
                case "scripts":
                    target = "\(layout.bin)/\(rest)"
                    script = true
                case "headers": target = "\(layout.headers(distribution: name))/\(rest)"
                case "data": target = "\(VenvLayout.prefix)/\(rest)"
                default: throw unsafe("unknown install scheme '\(parts[1])' (expected purelib, platlib, scripts, headers or data)")
                }
            } else {
                target = "\(layout.sitePackages)/\(parts.joined(separator: "/"))"
            }
            // Paths are built from checked parts under the venv; this states the invariant.
            guard target.hasPrefix(VenvLayout.prefix + "/") else { throw unsafe("would land outside \(VenvLayout.prefix)") }
            if member.kind == .directory {
                placements[member.name] = .directory(path: target)
            } else {
                try claim(target, by: "member '\(member.name)'")
                let mode: mode_t = script || member.permissions & 0o111 != 0 ? 0o755 : 0o644
                placements[member.name] = .file(path: target, mode: mode, script: script)
            }
        }
        for script in scripts { try claim("\(layout.bin)/\(script.name)", by: "entry point '\(script.name)'") }
    }
}

/// The second pass: writes the planned files, checks them against the wheel's `RECORD`, then
/// writes launchers, `INSTALLER` and the new `RECORD`.
struct Installation {
    let plan: WheelPlan
    let layout: VenvLayout
    let writer: VenvTreeWriter
    let wheel: String
    /// Rows of the new RECORD.
    private var rows: [WheelRecord.Row] = []
    /// Files installed, tree-relative.
    private var files: [String] = []
    /// Installed files that are a deflated member's bytes exactly, with where that stream is.
    private(set) var deflatedSources: [String: DeflatedSource] = [:]
    /// The zip's own directory (offsets, compressed sizes, CRCs) and a reader for local headers.
    private var zip: (directory: [String: ZipDirectory.Member], reader: FileReader, zip: ZipDirectory)?
    /// Leave the content of files that a recorded deflated member holds to the packer.
    var placeholders = false
    /// Placeholders of wheels installed earlier into the same tree, by tree path.
    var earlierStreams: [String: DeflatedSource] = [:]

    init(plan: WheelPlan, layout: VenvLayout, writer: VenvTreeWriter, wheel: String) {
        self.plan = plan
        self.layout = layout
        self.writer = writer
        self.wheel = wheel
    }

    mutating func run(path: String) throws -> [String] {
        let archive = try WheelArchive(path: path, wheel: wheel)
        do {
            let directory = try ZipDirectory(path: path)
            zip = (Dictionary(directory.members.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }),
                   try FileReader(path: path), directory)
        } catch {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "\(error)")
        }
        while let member = try archive.next() {
            switch plan.placements[member.name] {
            case .skip: continue
            case .directory(let target):
                try tree(member.name) { () throws(TreeWriteError) in try writer.makeDirectory(target) }
            case .file(let target, let mode, let script):
                try installMember(member, from: archive, to: target, mode: mode, script: script)
            case nil:
                throw RootfsError.invalidWheel(wheel: wheel, reason: "member '\(member.name)' appeared on the second reading only")
            }
        }
        for script in plan.scripts {
            try installGenerated("\(layout.bin)/\(script.name)", Array(script.launcher(interpreter: layout.interpreter).utf8), mode: 0o755)
        }
        let distInfo = "\(layout.sitePackages)/\(plan.distInfo)"
        try installGenerated("\(distInfo)/INSTALLER", Array("imagegen\n".utf8), mode: 0o644)
        // RECORD lists itself without a hash: it cannot contain its own.
        rows.append(WheelRecord.Row(path: relativeToSitePackages("\(distInfo)/RECORD"), hash: "", size: ""))
        let record = WheelRecord(rows: rows).rendered()
        try installGenerated("\(distInfo)/RECORD", record, mode: 0o644, recorded: false)
        return files.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Runs a tree operation for `entry`, turning its failure into an error that names the wheel and entry.
    private func tree<T>(_ entry: String, _ body: () throws(TreeWriteError) -> T) throws -> T {
        try Self.tree(wheel: wheel, entry: entry, body)
    }

    private static func tree<T>(wheel: String, entry: String, _ body: () throws(TreeWriteError) -> T) throws -> T {
        do {
            return try body()
        } catch .symlinkInPath(let path) {
            throw RootfsError.unsafeWheelEntry(
                wheel: wheel, entry: entry, reason: "would be written through the symlink '\(path)' in the tree")
        } catch .notADirectory(let path) {
            throw RootfsError.unsafeWheelEntry(
                wheel: wheel, entry: entry, reason: "needs the directory '\(path)', which is a file in the tree")
        } catch {
            throw error.rootfsError
        }
    }

    /// Streams one member to `target`, hashing what it reads (for the wheel's RECORD) and what
    /// it writes (for the new one).
    private mutating func installMember(
        _ member: WheelArchive.Member, from archive: WheelArchive, to target: String, mode: mode_t, script: Bool
    ) throws {
        let expected = plan.record[member.name]
        if placeholders, !script, let (source, size) = try recordedStream(of: member.name, expected: expected),
           let file = try tree(member.name, { () throws(TreeWriteError) in try writer.createFile(target, mode: mode) }) {
            try tree(member.name) { () throws(TreeWriteError) in
                try file.reserve(size)
                try file.close()
            }
            record(target, digest: source.sha256!, size: size)
            deflatedSources[target] = source
            return
        }
        var algorithm = Digest.Algorithm.sha256
        if let expected, !expected.hash.isEmpty {
            let name = expected.hash.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            guard let known = Digest.Algorithm(rawValue: name) else {
                throw RootfsError.invalidWheel(
                    wheel: wheel, reason: "RECORD: '\(member.name)' has a \(name) hash; imagegen checks sha256 and sha512")
            }
            algorithm = known
        }
        let input = DigestHasher(algorithm)
        let output = DigestHasher(.sha256)
        let file = try tree(member.name) { () throws(TreeWriteError) in try writer.createFile(target, mode: mode) }
        var rewriter = script ? ShebangRewriter(interpreter: layout.interpreter) : nil
        let wheel = wheel
        let emit = { (bytes: UnsafeRawBufferPointer) throws in
            output.update(bytes)
            if let file { try Self.tree(wheel: wheel, entry: member.name) { () throws(TreeWriteError) in try file.write(bytes) } }
        }
        try archive.read { chunk in
            input.update(chunk)
            if rewriter != nil { try rewriter!.feed(chunk, emit: emit) } else { try emit(chunk) }
        }
        try rewriter?.finish(emit: emit)
        try tree(member.name) { () throws(TreeWriteError) in try file?.close() }

        let size = input.count
        if let expected, !expected.hash.isEmpty {
            let actual = WheelFormat.recordHash(input.finalize())
            if actual != expected.hash {
                throw RootfsError.recordMismatch(wheel: wheel, file: member.name, expected: expected.hash, actual: actual)
            }
        }
        if let expected, !expected.size.isEmpty, expected.size != String(size) {
            throw RootfsError.recordMismatch(wheel: wheel, file: member.name, expected: "\(expected.size) bytes", actual: "\(size) bytes")
        }
        let digest = output.finalize()
        if file == nil { try acceptExisting(target, digest: digest, size: output.count) }
        record(target, digest: digest, size: output.count)
        // The file's bytes are the member's own (no shebang rewritten): its stream can travel as it is.
        if file != nil, rewriter?.rewrote != true, let zip, let entry = zip.directory[member.name], entry.size == size,
           let source = try zip.zip.deflatedSource(of: entry, reader: zip.reader, origin: "\(wheel): \(member.name)") {
            deflatedSources[target] = source
        }
    }

    /// The member's deflate stream, carrying the SHA-256 its `RECORD` row declares, when the
    /// file can be a placeholder: deflated in the zip, listed with a sha256 hash, and with the
    /// zip's size where the row gives one (anything else takes the streaming path, whose
    /// checks name the problem). Also returns the inflated size.
    private func recordedStream(of name: String, expected: WheelRecord.Row?) throws -> (DeflatedSource, Int64)? {
        guard let zip, let entry = zip.directory[name], let expected, let digest = WheelFormat.recordSHA256(expected.hash),
              expected.size.isEmpty || expected.size == String(entry.size),
              var source = try zip.zip.deflatedSource(of: entry, reader: zip.reader, origin: "\(wheel): \(name)")
        else { return nil }
        source.sha256 = digest
        return (source, entry.size)
    }

    /// Writes a file imagegen makes (a launcher, INSTALLER, RECORD).
    private mutating func installGenerated(_ target: String, _ bytes: [UInt8], mode: mode_t, recorded: Bool = true) throws {
        let digest = Digest.of(bytes)
        let written = try tree(target) { () throws(TreeWriteError) in try writer.writeFile(target, bytes, mode: mode) }
        if !written { try acceptExisting(target, digest: digest, size: Int64(bytes.count)) }
        if recorded { record(target, digest: digest, size: Int64(bytes.count)) } else { files.append(target) }
    }

    private mutating func record(_ target: String, digest: Digest, size: Int64) {
        rows.append(WheelRecord.Row(path: relativeToSitePackages(target), hash: WheelFormat.recordHash(digest), size: String(size)))
        files.append(target)
    }

    /// A file is already at `target`: fine if it is a regular file with these very bytes (a
    /// namespace package's `__init__.py` that several wheels ship), else a conflict that names
    /// the wheel that installed it.
    private func acceptExisting(_ target: String, digest: Digest, size: Int64) throws {
        // A placeholder's bytes are not in the tree: its stream says what they will be (only
        // placeholders' streams carry a SHA-256; a written file's stream has none).
        if let placeholder = earlierStreams[target] ?? deflatedSources[target], placeholder.sha256 != nil {
            if placeholder.sha256 == digest, writer.status(target).map({ Int64($0.st_size) }) == size { return }
            throw RootfsError.fileConflict(path: target, wheel: wheel, existing: owner(of: target))
        }
        if let st = writer.status(target), st.st_mode & S_IFMT == S_IFREG, Int64(st.st_size) == size {
            let hasher = DigestHasher(.sha256)
            if VenvTreeWriter.streamFile(writer.full(target), { hasher.update($0) }), hasher.finalize() == digest { return }
        }
        throw RootfsError.fileConflict(path: target, wheel: wheel, existing: owner(of: target))
    }

    /// Who installed `target`: the wheel whose RECORD lists it, or the tree itself.
    private func owner(of target: String) -> String {
        let sitePackages = writer.full(layout.sitePackages)
        guard let directory = opendir(sitePackages) else { return Self.noOwner }
        defer { closedir(directory) }
        var names: [String] = []
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".dist-info"), name != plan.distInfo { names.append(name) }
        }
        for name in names.sorted() {
            guard let bytes = VenvTreeWriter.readSmallFile("\(sitePackages)/\(name)/RECORD", limit: WheelInstaller.metadataLimit),
                  let record = try? WheelRecord(parsing: bytes, wheel: name)
            else { continue }
            if record.rows.contains(where: { resolveFromSitePackages($0.path) == target }) {
                let fields = VenvTreeWriter.readSmallFile("\(sitePackages)/\(name)/METADATA", limit: WheelInstaller.metadataLimit)
                    .map(MetadataFields.init)
                let label = fields.flatMap { f in f["Name"].map { "\($0) \(f["Version"] ?? "")" } } ?? name
                return "\(label) (\(layout.sitePackages)/\(name)/RECORD lists it)"
            }
        }
        return Self.noOwner
    }

    private static let noOwner = "the tree itself (no wheel's RECORD lists it)"

    /// A tree path as RECORD writes it: relative to site-packages, `../../../bin/tool` for a script.
    private func relativeToSitePackages(_ target: String) -> String {
        let base = layout.sitePackages.split(separator: "/")
        let parts = target.split(separator: "/")
        var common = 0
        while common < base.count, common < parts.count - 1, base[common] == parts[common] { common += 1 }
        return (Array(repeating: "..", count: base.count - common) + parts[common...].map(String.init)).joined(separator: "/")
    }

    /// A RECORD path back to a tree path; nil if it climbs out of the tree.
    private func resolveFromSitePackages(_ path: String) -> String? {
        // Read from site-packages, a path with a leading `/` too.
        guard let sitePackages = try? TreePath(rooted: layout.sitePackages) else { return nil }
        return sitePackages.resolving(linkTarget: String(path.drop { $0 == "/" }))?.relative
    }
}

/// Rewrites a script's first line when it starts with `#!python` (the binary distribution
/// format, "Recommended installer features"), as pip does: the whole line becomes
/// `#!INTERPRETER`. Streams: at most one block is held.
struct ShebangRewriter {
    private static let marker = Array("#!python".utf8)
    private let replacement: [UInt8]
    private enum State { case head([UInt8]), skippingLine, passing }
    private var state = State.head([])
    /// Whether the first line was replaced (else the bytes passed unchanged).
    private(set) var rewrote = false

    init(interpreter: String) { replacement = Array("#!\(interpreter)\n".utf8) }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch state {
        case .passing:
            try emit(chunk)
        case .skippingLine:
            try skipLine(chunk[...], emit: emit)
        case .head(var head):
            head.append(contentsOf: chunk)
            let n = min(head.count, Self.marker.count)
            if head[..<n] != Self.marker[..<n] {
                state = .passing
                try head.withUnsafeBytes { try emit($0) }
            } else if head.count >= Self.marker.count {
                state = .skippingLine
                try head.withUnsafeBytes { try skipLine($0[...], emit: emit) }
            } else {
                state = .head(head)
            }
        }
    }

    mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch state {
        case .passing: break
        case .head(let head): try head.withUnsafeBytes { try emit($0) }  // shorter than the marker
        case .skippingLine:
            rewrote = true
            try replacement.withUnsafeBytes { try emit($0) }  // the file was its first line
        }
        state = .passing
    }

    private mutating func skipLine(_ bytes: Slice<UnsafeRawBufferPointer>, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return }
        state = .passing
        rewrote = true
        try replacement.withUnsafeBytes { try emit($0) }
        try emit(UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...]))
    }
}
