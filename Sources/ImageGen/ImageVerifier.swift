import Foundation
import Layers
import OCI
import Synchronization
import SystemSupport

/// One thing wrong with an image: where, and what.
public struct Problem: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The object at fault, e.g. `layer 3 (sha256:…)` or `index.json`.
    public var location: String
    /// What is wrong with it.
    public var message: String

    /// `location: message`, one line.
    public var description: String { "\(location): \(message)" }
}

/// What `verify` found.
public struct VerifyReport: Codable, Sendable {
    /// The layout or archive checked.
    public var path: String
    /// True when no problem was found.
    public var ok: Bool { problems.isEmpty }
    /// Every problem, in the order found.
    public var problems: [Problem]
    /// Manifests checked.
    public var manifests: Int
    /// Layers checked (each distinct blob once).
    public var layers: Int
    /// Layer entries checked.
    public var entries: Int
    /// Bytes of blobs read.
    public var bytes: Int64

    enum CodingKeys: String, CodingKey { case path, ok, problems, manifests, layers, entries, bytes }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(ok, forKey: .ok)
        try c.encode(problems, forKey: .problems)
        try c.encode(manifests, forKey: .manifests)
        try c.encode(layers, forKey: .layers)
        try c.encode(entries, forKey: .entries)
        try c.encode(bytes, forKey: .bytes)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        problems = try c.decode([Problem].self, forKey: .problems)
        manifests = try c.decode(Int.self, forKey: .manifests)
        layers = try c.decode(Int.self, forKey: .layers)
        entries = try c.decode(Int.self, forKey: .entries)
        bytes = try c.decode(Int64.self, forKey: .bytes)
    }

    init(path: String) {
        self.path = path
        problems = []
        manifests = 0
        layers = 0
        entries = 0
        bytes = 0
    }
}

/// Checks an image layout or archive: every blob's size and digest, every layer's diff_id,
/// media types, document schemas, descriptor rules, and the safety of every layer entry.
/// Each layer is read once, in one streaming pass.
public struct ImageVerifier: Sendable {
    /// Accept character and block device nodes in layers.
    public var allowDevices: Bool

    /// A verifier.
    public init(allowDevices: Bool = false) { self.allowDevices = allowDevices }

    /// Verifies the layout directory or archive at `path`.
    public func verify(path: String) -> VerifyReport {
        var run = Run(report: VerifyReport(path: path), allowDevices: allowDevices)
        run.verify()
        return run.report
    }
}

/// The state of one verification.
private struct Run {
    var report: VerifyReport
    let allowDevices: Bool
    var checkedManifests: Set<Digest> = []
    var layerDiffIDs: [Digest: Digest] = [:]
    /// The entries of each layer read so far: a blob that comes again (in another manifest, or
    /// twice in one) is checked again on the tree below it there, without a second read.
    var layerEntries: [Digest: [TarEntry]] = [:]
    /// The ELF files of each layer read so far, by machine (``ELFMachines``).
    var layerELF: [Digest: ELFMachines] = [:]
    /// The entry problems reported for each layer blob, so a blob checked again adds only new ones.
    var reportedEntryProblems: [Digest: Set<String>] = [:]

    mutating func problem(_ location: String, _ message: String) {
        report.problems.append(Problem(location: location, message: message))
    }

    mutating func verify() {
        let source: any ImageSource
        do {
            source = try openImage(report.path)
        } catch {
            let message = "\(error)"
            problem(report.path, message.hasPrefix(report.path + ": ") ? String(message.dropFirst(report.path.count + 2)) : message)
            return
        }
        do {
            if let bytes = try source.document("oci-layout", limit: 1 << 20) {
                struct LayoutFile: Decodable { var imageLayoutVersion: String }
                let file = try CanonicalJSON.decode(LayoutFile.self, from: bytes, name: "oci-layout")
                if file.imageLayoutVersion != "1.0.0" {
                    problem("oci-layout", "imageLayoutVersion is '\(file.imageLayoutVersion)', expected '1.0.0'")
                }
            } else {
                problem("oci-layout", "missing (every OCI layout has one)")
            }
        } catch {
            problem("oci-layout", "\(error)".replacingOccurrences(of: "oci-layout: ", with: ""))
        }
        let index: Index
        do {
            index = try source.index()
        } catch {
            problem("index.json", "\(error)".replacingOccurrences(of: "index.json: ", with: ""))
            return
        }
        checkIndex(index, location: "index.json", source: source)
    }

    mutating func checkIndex(_ index: Index, location: String, source: any ImageSource) {
        if index.schemaVersion != 2 { problem(location, "schemaVersion is \(index.schemaVersion), expected 2") }
        if let mediaType = index.mediaType, !mediaType.isIndex {
            problem(location, "mediaType is '\(mediaType)', expected '\(MediaType.imageIndex)'")
        }
        if index.manifests.isEmpty {
            problem(location, "lists no manifest (expected at least one image manifest or index)")
        }
        // Two entries for one platform leave a puller nothing to choose by (tags aside: the
        // top index names one manifest once per tag).
        var platforms: [String: Int] = [:]
        for (i, descriptor) in index.manifests.enumerated() where descriptor.mediaType.isManifest {
            guard let platform = descriptor.platform, descriptor.annotations?[AnnotationKey.refName] == nil else { continue }
            if let first = platforms[platform.description] {
                problem(location, "manifests \(first) and \(i + 1) are both for \(platform); a platform has one manifest in an index")
            } else {
                platforms[platform.description] = i + 1
            }
        }
        for (i, descriptor) in index.manifests.enumerated() {
            let here = "manifest \(i + 1) (\(descriptor.digest))"
            if descriptor.mediaType.isIndex {
                guard let bytes = document(descriptor, location: here, source: source) else { continue }
                do {
                    let nested = try CanonicalJSON.decode(Index.self, from: bytes, name: "index")
                    checkIndex(nested, location: here, source: source)
                } catch {
                    problem(here, "not an image index: \(error)")
                }
            } else if descriptor.mediaType.isManifest {
                checkManifest(descriptor, location: here, source: source)
            } else {
                problem(here, "unknown media type '\(descriptor.mediaType)' (expected an image manifest or index)")
            }
        }
    }

    mutating func checkManifest(_ descriptor: Descriptor, location: String, source: any ImageSource) {
        // Several tags usually name one manifest: check it once.
        guard checkedManifests.insert(descriptor.digest).inserted else { return }
        guard let bytes = document(descriptor, location: location, source: source) else { return }
        let manifest: Manifest
        do {
            manifest = try CanonicalJSON.decode(Manifest.self, from: bytes, name: "manifest")
        } catch {
            problem(location, "not an image manifest: \(error)")
            return
        }
        if manifest.schemaVersion != 2 { problem(location, "schemaVersion is \(manifest.schemaVersion), expected 2") }
        if let mediaType = manifest.mediaType, mediaType != descriptor.mediaType {
            problem(location, "mediaType is '\(mediaType)' but the descriptor says '\(descriptor.mediaType)'")
        }
        // A manifest attached to another (an SBOM, provenance, a Notation or cosign signature:
        // `pull --with-referrers`) or one that declares an `artifactType` is an artifact, not an
        // image: its config is the empty one or a type of its own, such as Notation's
        // `application/vnd.cncf.notary.signature` (image-spec v1.1, manifest.md "Guidelines for
        // Artifact Usage"), and its blobs are checked by size and digest only. One with an image
        // config is an image (a `subject` is allowed there too) and gets every image check: a
        // `subject` added to an image does not exempt its layers.
        if manifest.subject != nil || manifest.artifactType != nil, !manifest.config.mediaType.isConfig {
            checkArtifact(manifest, location: location, source: source)
            return
        }
        report.manifests += 1

        let configLocation = "config (\(manifest.config.digest))"
        var diffIDs: [Digest]? = nil
        var architecture: String?
        if !manifest.config.mediaType.isConfig {
            problem(configLocation, "unknown media type '\(manifest.config.mediaType)' (expected '\(MediaType.imageConfig)')")
        } else if let configBytes = document(manifest.config, location: configLocation, source: source) {
            do {
                let config = try CanonicalJSON.decode(ImageConfiguration.self, from: configBytes, name: "config")
                if config.rootfs.type != "layers" { problem(configLocation, "rootfs.type is '\(config.rootfs.type)', expected 'layers'") }
                if config.rootfs.diffIDs.count != manifest.layers.count {
                    problem(
                        configLocation,
                        "rootfs.diff_ids lists \(config.rootfs.diffIDs.count) layers but the manifest has \(manifest.layers.count)")
                }
                diffIDs = config.rootfs.diffIDs
                architecture = config.architecture
                if let platform = descriptor.platform, platform.architecture != config.architecture || platform.os != config.os {
                    problem(location, "the index says \(platform) but the config says \(config.os)/\(config.architecture)")
                }
            } catch {
                problem(configLocation, "not an image configuration: \(error)")
            }
        }

        // Every layer blob not read yet is read first, two at a time (``LayerScan``); the
        // entries are then checked in layer order, since a layer's symlinks bear on the next.
        var usable: [(index: Int, layer: Descriptor, location: String)] = []
        var toScan: [Digest: (BlobFile, LayerCompressionKind)] = [:]
        for (j, layer) in manifest.layers.enumerated() {
            let here = "layer \(j + 1) (\(layer.digest))"
            guard let compression = layer.mediaType.layerCompression else {
                problem(here, "unknown media type '\(layer.mediaType)' (expected an OCI layer type)")
                continue
            }
            guard checkDescriptor(layer, location: here, source: source) else { continue }
            usable.append((j, layer, here))
            if layerDiffIDs[layer.digest] == nil, let file = source.blobFile(layer.digest) { toScan[layer.digest] = (file, compression) }
        }
        var scans = LayerScan.scanAll(toScan, parallel: 2)

        var tree = EntryChecker(allowDevices: allowDevices)
        for (j, layer, here) in usable {
            let diffID: Digest
            if let known = layerDiffIDs[layer.digest] {
                // The same blob was checked under another manifest, or earlier in this one; its
                // symlinks bear on the layers above it here too.
                diffID = known
                checkEntries(layerEntries[layer.digest] ?? [], of: layer.digest, location: here, tree: &tree)
            } else {
                guard let scan = scans.removeValue(forKey: layer.digest),
                      let computed = apply(scan, to: layer, location: here, tree: &tree)
                else { continue }
                diffID = computed
            }
            if let diffIDs, j < diffIDs.count, diffIDs[j] != diffID {
                problem(here, "diff_id mismatch: the config says \(diffIDs[j]), the uncompressed layer is \(diffID)")
            }
            if let architecture, let elf = layerELF[layer.digest], let foreign = elf.foreign(to: architecture) {
                problem(
                    here,
                    "\(foreign.count) ELF file\(foreign.count == 1 ? "" : "s") for \(foreign.architecture) in an \(architecture) image "
                        + "(the first: /\(foreign.example)); an \(architecture) machine cannot run \(foreign.count == 1 ? "it" : "them")")
            }
        }
    }

    /// An artifact manifest: its config and each of its layers are there, with their size and
    /// digest; an empty config (``MediaType/empty``) is `{}`. Neither is read as an image's
    /// config or layer: their media types are the artifact's own.
    mutating func checkArtifact(_ manifest: Manifest, location: String, source: any ImageSource) {
        let configLocation = "config (\(manifest.config.digest))"
        if manifest.config.mediaType == .empty {
            if let bytes = document(manifest.config, location: configLocation, source: source), bytes != Array("{}".utf8) {
                problem(configLocation, "the empty descriptor's blob is not '{}'")
            }
        } else {
            checkBlob(manifest.config, location: configLocation, source: source)
        }
        for (j, blob) in manifest.layers.enumerated() {
            checkBlob(blob, location: "document \(j + 1) (\(blob.digest))", source: source)
        }
    }

    /// A blob checked by presence, size and digest, streamed (it may be large).
    mutating func checkBlob(_ blob: Descriptor, location: String, source: any ImageSource) {
        guard checkDescriptor(blob, location: location, source: source) else { return }
        let hasher = DigestHasher(blob.digest.algorithm)
        do {
            try source.streamBlob(blob.digest) { hasher.update($0) }
        } catch {
            problem(location, "\(error)")
            return
        }
        report.bytes += hasher.count
        let actual = hasher.finalize()
        if actual != blob.digest { problem(location, "digest mismatch: expected \(blob.digest), got \(actual)") }
    }

    /// Descriptor rules, presence and size; true if the blob can be read.
    mutating func checkDescriptor(_ descriptor: Descriptor, location: String, source: any ImageSource) -> Bool {
        if descriptor.size < 0 {
            problem(location, "size is \(descriptor.size), expected 0 or more")
            return false
        }
        guard let stored = source.blobSize(descriptor.digest) else {
            problem(location, "blob is missing (blobs/\(descriptor.digest.algorithm.rawValue)/\(descriptor.digest.encoded))")
            return false
        }
        if let data = descriptor.data {
            let hasher = DigestHasher(descriptor.digest.algorithm)
            hasher.update(Array(data))
            if hasher.finalize() != descriptor.digest || Int64(data.count) != descriptor.size {
                problem(location, "the descriptor's data field does not match its digest and size")
            }
        }
        if stored != descriptor.size {
            problem(location, "size mismatch: the descriptor says \(descriptor.size) bytes, the blob has \(stored)")
            return stored > 0
        }
        return true
    }

    /// Reads and digest-checks a small document blob.
    mutating func document(_ descriptor: Descriptor, location: String, source: any ImageSource) -> [UInt8]? {
        guard checkDescriptor(descriptor, location: location, source: source) else { return nil }
        do {
            let bytes = try source.blob(descriptor.digest)
            report.bytes += Int64(bytes.count)
            let hasher = DigestHasher(descriptor.digest.algorithm)
            hasher.update(bytes)
            let actual = hasher.finalize()
            if actual != descriptor.digest {
                problem(location, "digest mismatch: expected \(descriptor.digest), got \(actual)")
                return nil
            }
            return bytes
        } catch {
            problem(location, "\(error)")
            return nil
        }
    }

    /// What a read of a layer blob found: its digest (a damaged blob is reported as a digest
    /// mismatch, which says more than the decoding error it causes), then the reading error,
    /// then each entry's safety against the layers before it.
    mutating func apply(_ scan: LayerScan, to layer: Descriptor, location: String, tree: inout EntryChecker) -> Digest? {
        report.bytes += scan.bytes
        guard scan.digest == layer.digest else {
            problem(location, "digest mismatch: expected \(layer.digest), got \(scan.digest)")
            return nil
        }
        if let failure = scan.failure {
            problem(location, "cannot read the layer: \(failure)")
            return nil
        }
        checkEntries(scan.entries, of: layer.digest, location: location, tree: &tree)
        report.layers += 1
        report.entries += scan.entries.count
        layerDiffIDs[layer.digest] = scan.diffID
        layerEntries[layer.digest] = scan.entries
        layerELF[layer.digest] = scan.elf
        return scan.diffID
    }

    /// How many entry problems of one layer are listed; the rest are counted in one more line.
    static let entryProblemsListed = 20

    /// Applies a layer's entries to `tree` in order, reporting the first
    /// ``entryProblemsListed`` problems (those not reported for this blob already) and how many
    /// more there were.
    mutating func checkEntries(_ entries: [TarEntry], of digest: Digest, location: String, tree: inout EntryChecker) {
        tree.beginLayer()
        var messages: [String] = []
        var unlisted = 0
        for entry in entries {
            guard let message = tree.check(entry) else { continue }
            if messages.count < Self.entryProblemsListed { messages.append(message) } else { unlisted += 1 }
        }
        if unlisted > 0 { messages.append("\(unlisted) more entry problem\(unlisted == 1 ? "" : "s") in this layer, not listed") }
        var reported = reportedEntryProblems[digest, default: []]
        for message in messages where reported.insert(message).inserted { problem(location, message) }
        reportedEntryProblems[digest] = reported
    }
}

/// One read of a layer blob, in three stages on three threads with at most 16 chunks
/// between them — reading and hashing the blob; decompressing; hashing the tar and parsing its
/// entries — so that one layer uses two cores, as `unpigz -c | sha256sum` does.
private struct LayerScan: Sendable {
    /// The blob's digest as read.
    var digest: Digest
    /// Bytes read.
    var bytes: Int64
    /// The SHA-256 of the uncompressed stream (as far as it could be decompressed).
    var diffID: Digest
    /// The tar's entries, in order.
    var entries: [TarEntry]
    /// Why the blob could not be read, decompressed or parsed to its end.
    var failure: (any Error)?
    /// The ELF files among its regular files, by machine.
    var elf: ELFMachines

    private enum Chunk: Sendable {
        /// Bytes of the blob as read.
        case raw([UInt8])
        /// Decompressed bytes.
        case bytes([UInt8])
        case end(failure: (any Error)?)
    }

    /// Reads the blobs, `parallel` at a time, largest first.
    static func scanAll(_ blobs: [Digest: (BlobFile, LayerCompressionKind)], parallel: Int) -> [Digest: LayerScan] {
        let order = blobs.sorted { $0.value.0.size > $1.value.0.size || ($0.value.0.size == $1.value.0.size && $0.key.description < $1.key.description) }
        // A scan keeps its failure in itself: the map throws nothing.
        let scans = Parallel.map(order, width: parallel) { digest, blob in
            (digest, LayerScan(file: blob.0, algorithm: digest.algorithm, compression: blob.1))
        }
        return Dictionary(uniqueKeysWithValues: scans)
    }

    init(file: BlobFile, algorithm: Digest.Algorithm, compression: LayerCompressionKind) {
        let chunks = BoundedQueue<Chunk>(capacity: 32)
        // Stage 1, on a thread of its own: read the blob and decompress it — the longest work,
        // so it gets a core to itself — handing the read bytes (for the blob's digest) and the
        // decompressed ones to this thread, each in the array it was read or inflated into.
        // After a decompression failure — or with no decoder at all (`IMAGEGEN_INFLATE=isal`
        // where ISA-L does not load) — it goes on reading, so the blob is hashed to its end and
        // the failure, not a digest mismatch, is what is reported.
        let decode: @Sendable () -> Void = {
            var failure: (any Error)?
            let decoder: LayerDecoder?
            do {
                decoder = try LayerDecoder(kind: compression) { chunks.put(.bytes($0)) }
            } catch {
                decoder = nil
                failure = error
            }
            do {
                try FileReader(path: file.path).streamChunks(from: file.offset, length: file.size) { chunk in
                    chunks.put(.raw(chunk))
                    guard failure == nil, let decoder else { return }
                    do { try chunk.withUnsafeBytes { try decoder.feed($0) } } catch { failure = error }
                }
                if failure == nil { try decoder?.finish() }
            } catch {
                if failure == nil { failure = error }
            }
            chunks.put(.end(failure: failure))
        }
        // Stage 2, on this thread: hash the blob and the tar, and parse the tar.
        let blobHasher = DigestHasher(algorithm)
        let diffHasher = DigestHasher(.sha256)
        var entries: [TarEntry] = []
        var failure: (any Error)?
        var parser = TarStreamParser { entries.append($0) }
        var elf = ELFMachines()
        // Regular files whose first bytes (an ELF header's machine field) are still to come.
        var heads: [(entry: Int, bytes: [UInt8])] = []
        var seen = 0
        Parallel.pipeline([decode]) {
            while true {
                switch chunks.take() {
                case .raw(let bytes):
                    blobHasher.update(bytes)
                case .bytes(let bytes):
                    diffHasher.update(bytes)
                    guard failure == nil else { continue }
                    let start = parser.offset
                    do { try bytes.withUnsafeBytes { try parser.feed($0) } } catch { failure = error }
                    for index in seen..<entries.count where entries[index].header.kind == .regular && entries[index].header.size >= ELFMachines.headLength {
                        heads.append((index, []))
                    }
                    seen = entries.count
                    let end = start + Int64(bytes.count)
                    var waiting: [(entry: Int, bytes: [UInt8])] = []
                    for head in heads {
                        let entry = entries[head.entry]
                        let from = entry.dataOffset + Int64(head.bytes.count)
                        guard from < end else {
                            waiting.append(head)
                            continue
                        }
                        let take = min(ELFMachines.headLength - head.bytes.count, Int(end - from))
                        let first = Int(from - start)
                        let collected = head.bytes + bytes[first..<(first + take)]
                        if collected.count < ELFMachines.headLength {
                            waiting.append((head.entry, collected))
                        } else {
                            elf.note(head: collected, path: entry.header.path)
                        }
                    }
                    heads = waiting
                case .end(let upstream):
                    if failure == nil { failure = upstream }
                    if failure == nil {
                        do { try parser.finish() } catch { failure = error }
                    }
                    return
                }
            }
        }
        self.digest = blobHasher.finalize()
        self.bytes = blobHasher.count
        self.diffID = diffHasher.finalize()
        self.entries = entries
        self.failure = failure
        self.elf = elf
    }
}

/// Checks layer entries for safety, keeping the symlinks of the layers applied so far.
///
/// An entry below a path that is a symlink (made earlier in this layer or in a lower one) is
/// refused wherever the link points: an extractor that follows it writes somewhere else than the
/// entry says, outside the root for a link to `..`, onto another file of the image for a link to
/// `/`. A layer may replace a symlink (OCI image-spec layer.md, "Changeset over existing files":
/// an entry removes what is at its path unless both are directories) — by a directory entry at
/// its path, by any other entry there, or by whiting it out (`.wh.NAME`, or `.wh..wh..opq` in its
/// folder) — and entries below that path are then fine. Whiteouts apply to lower layers only
/// (layer.md, "Whiteouts"), so they never hide a symlink of their own layer.
struct EntryChecker {
    /// A symlink of the image so far.
    struct Symlink {
        /// Its target, as stored.
        var target: String
        /// The layer that made it (``layer`` at the time).
        var layer: Int
    }

    let allowDevices: Bool
    /// Symlinks in the image so far, by normalised path.
    var symlinks: [String: Symlink] = [:]
    /// Regular files of the current layer (hard link targets).
    var layerFiles: Set<String> = []
    /// Every folder above a path of `symlinks` / `layerFiles`, so that an entry that replaces a
    /// path looks for what it removes below it only where something was recorded (a file entry
    /// replaces a path; scanning every record for each would be quadratic in the entries).
    /// Folders are not forgotten when their records go: that costs a needless scan, no more.
    private var symlinkFolders: Set<String> = []
    private var layerFileFolders: Set<String> = []
    /// The number of the layer being checked (1 for the first).
    var layer = 0

    init(allowDevices: Bool) { self.allowDevices = allowDevices }

    mutating func beginLayer() {
        layer += 1
        layerFiles.removeAll()
        layerFileFolders.removeAll()
    }

    mutating func addSymlink(_ path: String, _ link: Symlink) {
        symlinks[path] = link
        Self.addFolders(of: path, to: &symlinkFolders)
    }

    mutating func addLayerFile(_ path: String) {
        layerFiles.insert(path)
        Self.addFolders(of: path, to: &layerFileFolders)
    }

    /// Adds the folders above `path`, deepest first, stopping at one already there (its own
    /// folders were added with it).
    private static func addFolders(of path: String, to folders: inout Set<String>) {
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            guard folders.insert(String(path[..<slash])).inserted else { return }
            end = slash
        }
    }

    /// The shortest proper prefix of `parts` that is a symlink: the first link an extractor
    /// would pass through to reach `parts`.
    func symlinkAbove(_ parts: [String]) -> (path: String, link: Symlink)? {
        var prefix = ""
        for part in parts.dropLast() {
            prefix += prefix.isEmpty ? part : "/" + part
            if let link = symlinks[prefix] { return (prefix, link) }
        }
        return nil
    }

    /// "'link', a symlink to '/' made earlier in this layer" (or "in a lower layer").
    func describe(_ path: String, _ link: Symlink) -> String {
        "'\(path)', a symlink to '\(link.target)' made \(link.layer == layer ? "earlier in this layer" : "in a lower layer")"
    }

    /// Forgets what an entry at `path` removes: the symlink there and, unless the entry is a
    /// directory (which keeps a directory's contents), every symlink and file below it.
    mutating func replace(_ path: String, byDirectory: Bool) {
        symlinks[path] = nil
        guard !byDirectory else { return }
        let below = path + "/"
        if symlinkFolders.contains(path) { symlinks = symlinks.filter { !$0.key.hasPrefix(below) } }
        if layerFileFolders.contains(path) { layerFiles = layerFiles.filter { !$0.hasPrefix(below) } }
    }

    /// A problem with `entry`, or nil.
    mutating func check(_ entry: TarEntry) -> String? {
        let raw = entry.rawPath
        let shown = "entry '\(raw)'"
        let member: TreePath
        do {
            member = try TreePath(member: raw)
        } catch {
            switch error {
            case .absolute: return "\(shown): absolute path"
            case .climbs: return "\(shown): path contains '..'"
            }
        }
        guard let name = member.name else { return nil }  // "./": the root itself
        let parts = member.components
        let path = member.relative

        // A parent that is a symlink would redirect this entry (whiteouts included).
        if let (above, link) = symlinkAbove(parts) {
            if resolve(member.parent) == nil {
                return "\(shown): escapes the root through a symlink in its path (\(describe(above, link)))"
            }
            return "\(shown): is below \(describe(above, link)); an extractor would write through the link"
        }
        if name.hasPrefix(".wh.") {
            let dir = parts.dropLast().joined(separator: "/")
            let prefix = dir.isEmpty ? "" : dir + "/"
            let lower = layer
            if name == ".wh..wh..opq" {
                symlinks = symlinks.filter { !($0.key.hasPrefix(prefix) && $0.value.layer < lower) }
            } else {
                let hidden = prefix + String(name.dropFirst(4))
                symlinks = symlinks.filter { !(($0.key == hidden || $0.key.hasPrefix(hidden + "/")) && $0.value.layer < lower) }
            }
            return nil
        }
        replace(path, byDirectory: entry.storedKind == .directory)
        switch entry.storedKind {
        case .symlink:
            let target = entry.header.linkTarget
            // Kept even when it escapes, so entries written through it are caught too.
            addSymlink(path, Symlink(target: target, layer: layer))
            if member.parent.resolving(linkTarget: target) == nil {
                return "\(shown): symlink to '\(target)' escapes the root"
            }
        case .hardlink:
            let target = entry.header.linkTarget
            // Absolute or with a `..` part.
            guard let linked = try? TreePath(member: target) else {
                return "\(shown): hard link to '\(target)' points outside the layer"
            }
            if let (above, link) = symlinkAbove(linked.components) {
                return "\(shown): hard link to '\(target)' goes through \(describe(above, link))"
            }
            if !layerFiles.contains(linked.relative) {
                return "\(shown): hard link to '\(target)', which is not a regular file earlier in this layer"
            }
        case .characterDevice, .blockDevice:
            if !allowDevices { return "\(shown): device node (pass --allow-devices to accept)" }
        case .regular:
            addLayerFile(path)
        default:
            break
        }
        return nil
    }

    /// Resolves a directory path through known symlinks; nil if it climbs above the root.
    func resolve(_ path: TreePath) -> TreePath? {
        var resolved = TreePath.root
        var hops = 0
        for part in path.components {
            let candidate = resolved.appending(part)
            if let target = symlinks[candidate.relative]?.target {
                hops += 1
                if hops > 40 { return resolved }  // a loop: runtimes fail on it, it cannot escape
                guard let next = resolved.resolving(linkTarget: target) else { return nil }
                resolved = next
            } else {
                resolved = candidate
            }
        }
        return resolved
    }
}

/// The ELF files of a layer by the CPU they are for, from the first bytes of each regular file
/// (`e_machine`, ELF's header field 18): the check that an arm64 image carries no x86-64
/// program and the other way round. GPU code (`EM_CUDA`) and other machines are not counted,
/// nor is a file whose name names its own architecture (`attach_linux_amd64.so`, which
/// debugpy's aarch64 wheel ships beside the arm64 one): a payload for several machines, which
/// its program chooses from by name at run time.
struct ELFMachines: Sendable {
    /// How many bytes of a file the check reads.
    static let headLength = 20

    /// The OCI architectures imagegen builds for, by `e_machine`.
    static let architectures: [UInt16: String] = [62: "amd64", 183: "arm64"]

    /// How file names spell each architecture.
    static let names: [String: [String]] = ["amd64": ["amd64", "x86_64", "x86-64"], "arm64": ["arm64", "aarch64"]]

    /// Per architecture: how many files, and the first one's path.
    private(set) var files: [String: (count: Int, example: String)] = [:]

    /// Counts a file whose first ``headLength`` bytes are `head`, when it is an ELF file for
    /// one of ``architectures``.
    mutating func note(head: [UInt8], path: String) {
        guard head.count >= Self.headLength, head[0] == 0x7F, head[1] == 0x45, head[2] == 0x4C, head[3] == 0x46 else { return }
        // EI_DATA: 1 little-endian, 2 big-endian.
        let machine = head[5] == 2 ? UInt16(head[18]) << 8 | UInt16(head[19]) : UInt16(head[19]) << 8 | UInt16(head[18])
        guard let architecture = Self.architectures[machine] else { return }
        // The file's own name, not its folder: /usr/lib/x86_64-linux-gnu/ in an arm64 image is
        // exactly what the check is for.
        let name = (path.split(separator: "/").last.map(String.init) ?? path).lowercased()
        if (Self.names[architecture] ?? []).contains(where: { name.contains($0) }) { return }
        let known = files[architecture]
        files[architecture] = ((known?.count ?? 0) + 1, known?.example ?? path)
    }

    /// The files for another architecture than `architecture` (the first such one), if any.
    func foreign(to architecture: String) -> (architecture: String, count: Int, example: String)? {
        files.filter { $0.key != architecture }.sorted { $0.key < $1.key }.first.map { ($0.key, $0.value.count, $0.value.example) }
    }
}
