import Foundation
import ImageModel

extension DockerfileGenerator {
    /// A spec that `imagegen bake` with no names leaves out, and why.
    public struct LeftOut: Sendable, Hashable, CustomStringConvertible {
        /// The spec's name (`Images/NAME.yaml`, `Images/NAME.lock.json`).
        public var name: String
        /// Why it cannot be rendered, naming the file and what it lacks.
        public var reason: String

        /// Makes one.
        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }

        /// `left out NAME: REASON`, one line.
        public var description: String { "left out \(name): \(reason)" }
    }

    /// What `bake` renders when no names are given: the model of every spec in `Images/` whose
    /// Dockerfile can be rendered (spec and lock loaded, the lock up to date, the result
    /// linted), in name order, and each spec it leaves out with the reason — a spec without a
    /// lock, a lock without a spec, a stale lock, a lock without pip (an OCI-only image such as
    /// cuda-smoke), a template that fails on it. Throws only when the folder cannot be listed;
    /// named specs (``model(_:)``) still fail one by one.
    public func everySpec() throws -> (models: [DockerfileModel], leftOut: [LeftOut]) {
        let directory = options.images
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ImageGenError.io(path: directory, action: "list the specs", cause: error)
        }
        let specs = Set(files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(".yaml".count)) })
        let locks = Set(files.filter { $0.hasSuffix(".lock.json") }.map { String($0.dropLast(".lock.json".count)) })
        var models: [DockerfileModel] = []
        var leftOut: [LeftOut] = []
        for name in specs.union(locks).sorted() {
            guard specs.contains(name) else {
                leftOut.append(LeftOut(name: name, reason: "\(directory)/\(name).lock.json has no spec (\(directory)/\(name).yaml)"))
                continue
            }
            guard locks.contains(name) else {
                leftOut.append(LeftOut(
                    name: name, reason: "\(directory)/\(name).yaml has no lock (\(directory)/\(name).lock.json); run `imagegen lock \(name)`"))
                continue
            }
            do {
                let model = try model(name)
                _ = try render(model)
                models.append(model)
            } catch {
                leftOut.append(LeftOut(name: name, reason: "\(error)"))
            }
        }
        return (models, leftOut)
    }
}
