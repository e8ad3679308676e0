import Glibc
import Foundation
import ImageModel
import Layers
import OCI
import Rootfs
import SystemSupport

/// The recipes that make each component's tree, on top of the Rootfs module.
enum ComponentTrees {
    /// Unpacks a component's debs (no maintainer scripts) and writes a dpkg status that also
    /// lists the packages of `lower` (the debs of the components below), so the top deb layer's
    /// status holds every package of the image. Returns each deb's declared facts, by path, read
    /// while unpacking (the bills of materials need them; reading them apart decompresses each
    /// `data.tar` once more).
    static func unpackDebs(_ debs: [String], into root: String, statusFrom all: [String]) throws -> [String: PackageFacts] {
        let own = Set(debs)
        let lower = try all.filter { !own.contains($0) }.map { try DebPackage(readingControlOf: $0) }
        var facts: [String: PackageFacts] = [:]
        try DebLayerBuilder(root: root).build(debs: debs, lowerPackages: lower) { facts[$0] = $1 }
        return facts
    }

    /// What maintainer scripts would have done in the base: merged-/usr links, accounts, the CA bundle.
    static func baseFixups(_ root: String) throws { try SystemFixups.applyBase(root: root) }

    /// What maintainer scripts would have done for the tools: `cc`/`c++` alternatives, no SSH host keys.
    static func toolsFixups(_ root: String, sshGroupID: UInt32?) throws { try SystemFixups.applyTools(root: root, sshGroupID: sshGroupID) }

    /// What configuring the component's packages would have done (alternatives, PAM, shells,
    /// ucf, apt's marks, …) on top of the packages below: ``MaintainerEffects``.
    static func maintainerEffects(_ root: String, own: [String], lower: [String], architecture: String, requested: Set<String>) throws {
        let context = try MaintainerEffects.Context(ownDebs: own, lowerDebs: lower, architecture: architecture, requested: requested)
        try MaintainerEffects.apply(root: root, context: context)
    }

    /// The venv at /opt/venv, pointing at Debian's interpreter.
    static func venvSkeleton(_ root: String, python: PythonVersion) throws {
        try VenvSkeleton(python: python).write(into: root)
    }

    /// Installs wheels into the venv of a component's tree; returns the installed files whose
    /// bytes are a deflated member of their wheel, with where that stream is.
    ///
    /// The tree is made to be packed, so files a recorded stream holds are placeholders
    /// (``WheelInstaller/install(wheel:into:placeholders:streams:)``): their bytes are inflated
    /// once, by the packer, which checks them against CRC-32, size and RECORD's SHA-256 then.
    static func installWheels(_ wheels: [String], into root: String, python: PythonVersion) throws -> [String: DeflatedSource] {
        let installer = WheelInstaller(python: python)
        var sources: [String: DeflatedSource] = [:]
        for wheel in wheels {
            // A file two wheels install byte for byte keeps the first one's stream.
            let installed = try installer.install(wheel: wheel, into: root, placeholders: true, streams: sources)
            sources.merge(installed.deflatedSources) { first, _ in first }
        }
        return sources
    }

    /// Lists the NVIDIA library folders of a component's tree under /etc/ld.so.conf.d.
    static func ldSoConf(_ root: String, component: String, python: PythonVersion) throws {
        _ = try LdSoConf.write(component: component, root: root, python: python)
    }

    /// base-passwd's `passwd.master` and `group.master`, read from its .deb.
    static func baseAccounts(deb: String) throws -> (String, String) {
        try ScratchDirectory.with(purpose: "base-passwd") { scratch in
            try DebUnpacker(root: scratch.path).unpack(deb)
            func read(_ name: String) throws -> String {
                String(decoding: try FileReader.readAll(path: scratch.appending("usr/share/base-passwd/\(name)"), limit: 1 << 20), as: UTF8.self)
            }
            return (try read("passwd.master"), try read("group.master"))
        }
    }

    /// Writes generated entries (files with content in memory, directories) into a tree.
    static func write(_ entries: [LayerEntry], into root: String, mtime: Int64) throws {
        let fm = FileManager.default
        for entry in entries.sorted(by: { $0.header.path < $1.header.path }) {
            let path = "\(root)/\(entry.header.path)"
            switch entry.header.kind {
            case .directory:
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            case .regular:
                guard case .bytes(let bytes) = entry.content else { continue }
                try AtomicFileWriter.write(bytes, to: path)
            default:
                continue
            }
            chmod(path, mode_t(entry.header.mode))
            chown(path, entry.header.uid, entry.header.gid)
        }
    }
}
