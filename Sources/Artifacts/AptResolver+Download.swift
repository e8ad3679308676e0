import Foundation
import ImageModel

extension AptResolver {
    /// Downloads the exact `.deb` files of `debs` into `directory` with `apt-get download`,
    /// through the same private state (and lock) that resolving uses; returns each package
    /// with the file apt wrote. The files are not verified here: the cache does that.
    ///
    /// The lists are updated first, once. A locked version the lists no longer describe fails
    /// before anything is downloaded, naming every such package (Debian mirrors keep only
    /// current versions). Packages of an architecture other than this resolver's (and `all`)
    /// are asked for as `NAME:ARCH=VERSION`, with that architecture added to apt's.
    /// - Parameter image: the lock's image name, for the advice in errors.
    func download(_ debs: [LockedDeb], into directory: String, image: String?) async throws -> [(deb: LockedDeb, file: String)] {
        guard !debs.isEmpty else { return [] }
        var requests: [String] = []
        for deb in debs {
            // Checked here because a lock file is user input that reaches apt's command line.
            let request = try AptPackageRequest(name: deb.name, version: deb.version)
            guard !deb.architecture.isEmpty, deb.architecture.utf8.allSatisfy({ Self.isArchitectureByte($0) }) else {
                throw ArtifactsError.invalidRequest(
                    value: deb.architecture, reason: "a Debian architecture is [a-z0-9-]+ (amd64, arm64, all)")
            }
            requests.append(
                deb.architecture == architecture || deb.architecture == "all"
                    ? request.description : "\(deb.name):\(deb.architecture)=\(deb.version)")
        }

        var prepared = try prepareState()
        let foreign = Set(debs.map(\.architecture)).subtracting([architecture, "all"]).sorted()
        if !foreign.isEmpty {
            // A later `-o` wins; a comma-separated value is read as a list.
            prepared.options += ["-o", "APT::Architectures=\(([architecture] + foreign).joined(separator: ","))"]
        }
        let state = prepared
        return try await state.withLock {
            try await aptGet(["update", "-q", "--error-on=any"], state: state, label: "apt-get update")
            let index = try PackagesIndex(listsDirectory: state.lists)
            let gone = debs.filter { !index.offers(name: $0.name, version: $0.version, architecture: $0.architecture) }
            guard gone.isEmpty else {
                throw ArtifactsError.noLongerOffered(
                    packages: gone.map { "\($0.name) \($0.version) (\($0.architecture))" }, image: image)
            }
            try await aptGet(["download", "-q"] + requests, state: state, label: "apt-get download", directory: directory)

            // apt names each file by its store name, NAME_VERSION_ARCH.deb, quoted (an epoch's
            // `:` is `%3a`), not by the pool's file name.
            var written: [String: String] = [:]
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw ArtifactsError.io(path: directory, reason: error.localizedDescription)
            }
            for name in names where name.hasSuffix(".deb") {
                if let stored = PrintedURI.storeName(name) {
                    written[Self.key(stored.name, stored.version, stored.architecture)] = "\(directory)/\(name)"
                }
            }
            return try debs.map { deb in
                guard let file = written[Self.key(deb.name, deb.version, deb.architecture)] else {
                    throw ArtifactsError.unexpectedOutput(
                        tool: "apt-get download", reason: "it wrote no file for \(deb.name) \(deb.version) (\(deb.architecture))")
                }
                return (deb, file)
            }
        }
    }

    private static func key(_ name: String, _ version: String, _ architecture: String) -> String {
        "\(name) \(version) \(architecture)"
    }

    private static func isArchitectureByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
    }
}
