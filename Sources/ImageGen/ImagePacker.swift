import Foundation
import Layers
import OCI
import Synchronization
import SystemSupport

/// Errors from packing or verifying whole images.
public enum ImageGenError: Error, CustomStringConvertible, Sendable {
    /// An option has a value that cannot work.
    case invalidOption(name: String, value: String, expected: String)
    /// An input tree, archive or image is unusable.
    case invalidInput(path: String, reason: String)
    /// The output cannot be written.
    case output(path: String, reason: String)
    /// A file operation on `path` failed; `cause` is the system's error.
    case io(path: String, action: String, cause: any Error)
    /// The lock was made from another version of its spec.
    case staleLock(lock: String, spec: String, image: String)
    /// An image was not built from the lock it is described with.
    case notBuiltFromLock(image: String, lock: String, reason: String)
    /// A package's declared facts (source, licenses) could not be read from its file.
    case packageFacts(fileName: String, artifact: String, cause: any Error)
    /// A program imagegen runs failed; the error carries its status and stderr.
    case tool(SubprocessError)
    /// A program imagegen needs is not on this host.
    case missingTool(name: String, package: String)
    /// An operation needs root and this process is not root.
    case needsRoot(operation: String, reason: String)
    /// An image's configuration holds a value imagegen cannot use.
    case imageSetting(name: String, value: String, reason: String)
    /// This host's NVIDIA driver cannot be found or cannot run the image.
    case hostDriver(reason: String)

    public var description: String {
        switch self {
        case .invalidOption(let name, let value, let expected): "\(name) '\(value)': expected \(expected)"
        case .invalidInput(let path, let reason): "\(path): \(reason)"
        case .output(let path, let reason): "\(path): \(reason)"
        case .io(let path, let action, let cause): "\(path): cannot \(action): \(Self.describe(cause))"
        case .staleLock(let lock, let spec, let image): "\(lock): stale: \(spec) changed since it was locked; run `imagegen lock \(image)`"
        case .notBuiltFromLock(let image, let lock, let reason): "\(image): \(reason): it was built from another lock than \(lock); rebuild it (imagegen build) before describing it"
        case .packageFacts(let fileName, let artifact, let cause): "\(fileName): reading what it declares (\(artifact)): \(cause)"
        case .tool(let error): "\(error)"
        case .missingTool(let name, let package): "\(name) is not on this host (\(package))"
        case .needsRoot(let operation, let reason): "\(operation) needs root: \(reason); run it with sudo"
        case .imageSetting(let name, let value, let reason): "\(name) '\(value)': \(reason)"
        case .hostDriver(let reason): reason
        }
    }

    /// A system error as one line: Foundation's sentence for its own errors, our description for ours.
    static func describe(_ error: any Error) -> String {
        error is CocoaError || error is POSIXError ? error.localizedDescription : "\(error)"
    }
}

/// What `pack` writes.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// An OCI layout directory at the output path.
    case layout
    /// An image archive (tar) at the output path.
    case archive
    /// The layout at the output path and the archive beside it, at `PATH.tar`.
    case both
}

/// Packs directory trees (or archives) into an OCI image, one layer per input.
public struct ImagePacker: Sendable {
    /// Everything `pack` needs to know.
    public struct Options: Sendable {
        /// Directories or archive files, base layer first.
        public var inputs: [String]
        /// Where the layout (or archive) goes.
        public var output: String
        /// Layout, archive or both.
        public var format: OutputFormat = .layout
        /// Tags (`org.opencontainers.image.ref.name`, and `REPOSITORY:TAG` for `docker load`).
        public var tags: [String] = []
        /// The repository name that `docker load` gives the tags.
        public var repository: String = "imagegen"
        /// Layer compression.
        public var compression: Compression = .gzip
        /// Threads for compression and for packing layers side by side.
        public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        /// The container configuration.
        public var config = ContainerConfig()
        /// The target platform.
        public var platform = Platform(architecture: "amd64", os: "linux")
        /// The fixed time written into entries and documents.
        public var buildTime = BuildTime(seconds: 0)
        /// Ownership of the entries.
        public var ownership: DirectoryTree.Ownership = .root
        /// Carry a zip input's deflate streams into gzip layers as they are (false: `--recompress`).
        public var reuseDeflateStreams = true

        /// Options with defaults.
        public init(inputs: [String], output: String) {
            self.inputs = inputs
            self.output = output
        }
    }

    /// What was written.
    public struct Result: Sendable {
        /// The manifest's descriptor.
        public var manifest: Descriptor
        /// The config's descriptor.
        public var config: Descriptor
        /// The layers, base first.
        public var layers: [PackedLayer]
        /// The layout directory, if one was kept.
        public var layoutPath: String?
        /// The archive file, if one was written.
        public var archivePath: String?
    }

    let options: Options
    let progress: @Sendable (String) -> Void

    /// A packer; `progress` gets one line per step, for people.
    public init(options: Options, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.options = options
        self.progress = progress
    }

    /// Packs the image. Nothing is left at the output path unless the whole image was written.
    public func run() throws -> Result {
        let o = options
        guard !o.inputs.isEmpty else {
            throw ImageGenError.invalidOption(name: "inputs", value: "", expected: "at least one directory or archive")
        }
        guard o.threads >= 1 else {
            throw ImageGenError.invalidOption(name: "--threads", value: "\(o.threads)", expected: "1 or more")
        }
        for tag in o.tags where !Self.isValidTag(tag) {
            throw ImageGenError.invalidOption(
                name: "--tag", value: tag, expected: "letters, digits and . _ - (up to 128, not starting with . or -)")
        }
        let staging = try ImageWriter.makeStaging(for: o.output)
        defer { try? FileManager.default.removeItem(atPath: staging) }

        let trees = try prepareInputs(staging: staging)
        let layout = try LayoutWriter(path: "\(staging)/layout")
        let layers = try packLayers(trees: trees, into: layout)

        let created = o.buildTime.rfc3339
        let configuration = ImageConfiguration(
            platform: o.platform, created: created, config: o.config, diffIDs: layers.map(\.diffID),
            history: layers.indices.map { History(created: created, createdBy: "imagegen pack", comment: "layer \($0 + 1)") })
        let writer = ImageWriter(
            output: o.output, format: o.format, tags: o.tags, repository: o.repository, platform: o.platform,
            mtime: o.buildTime.seconds)
        return try writer.finish(layout: layout, layers: layers, configuration: configuration)
    }

    /// A layer's input once prepared.
    private enum Input {
        /// A directory tree.
        case tree(String)
        /// A zip file, read in place.
        case zip(String)
    }

    /// Turns each input into a directory or a zip: directories as they are, zip files (wheels)
    /// read in place, other archives unpacked.
    private func prepareInputs(staging: String) throws -> [Input] {
        try options.inputs.enumerated().map { index, input in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw ImageGenError.invalidInput(path: input, reason: "no such file or directory")
            }
            if isDirectory.boolValue { return .tree(input) }
            if ZipEntries.isZip(input) { return .zip(input) }
            // 0700: the tree keeps the archive's modes, setuid included, on files that belong to
            // whoever runs imagegen; nobody else may reach them.
            let tree = "\(staging)/input-\(index)"
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            progress("unpacking \(input)")
            try ArchiveExtractor(path: input).extract(into: tree)
            return .tree(tree)
        }
    }

    /// Packs every tree into a layer, several at once, each with its own compressor.
    private func packLayers(trees: [Input], into layout: LayoutWriter) throws -> [PackedLayer] {
        let o = options
        let started = ContinuousClock.now
        let progress = self.progress
        return try Parallel.map(Array(trees.indices), width: trees.count) { index in
            let entries = switch trees[index] {
            case .tree(let root): try DirectoryTree.entries(root: root, ownership: o.ownership, mtime: o.buildTime.seconds)
            case .zip(let zip): try ZipEntries.entries(zip: zip, mtime: o.buildTime.seconds)
            }
            let layer = try LayerPacker.pack(
                entries, into: layout, compression: o.compression, threads: o.threads, reuseDeflateStreams: o.reuseDeflateStreams)
            let seconds = (ContinuousClock.now - started).components.seconds
            progress(
                "layer \(index + 1)/\(trees.count) \(o.inputs[index]): \(layer.entryCount) entries, "
                    + "\(ByteCount.text(layer.uncompressedSize)) → \(ByteCount.text(layer.descriptor.size)) "
                    + "\(o.compression) \(layer.descriptor.digest.short) (\(seconds)s)")
            return layer
        }
    }

    /// A tag per the distribution spec: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
    static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.utf8.first, tag.utf8.count <= 128 else { return false }
        func ok(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
        }
        return ok(first) && first != 0x2E && first != 0x2D && tag.utf8.allSatisfy(ok)
    }
}
