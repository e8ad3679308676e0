import Foundation
import ImageModel
import OCI

/// A `docker buildx bake` file for a set of image variants: one target per variant (its
/// Dockerfile context, tags, labels, platform, base argument, registry cache) and the group
/// `default` that builds them all. Written as HCL (`docker-bake.hcl`) or as JSON
/// (`docker-bake.json`); both carry the same targets.
///
/// Tags are `${REPOSITORY}:TAG` for each tag of the spec, and the registry cache of a target is
/// `${CACHE_REPOSITORY}:NAME`; both are bake variables with defaults, so a pipeline overrides
/// them from the environment (`REPOSITORY=ghcr.io/org/pytorch docker buildx bake`).
public struct BakeFile: Sendable {
    public struct Target: Sendable {
        /// The bake target name (`v2-7`): the image name with characters bake does not allow
        /// in names replaced by `-`.
        public var name: String
        /// The image (spec) name.
        public var image: String
        /// The context directory, relative to the bake file.
        public var context: String
        public var tags: [String]
        public var labels: [String: String]
        public var platforms: [String]
        public var arguments: [String: String]
    }

    public var targets: [Target]
    public var repository: String
    public var cacheRepository: String

    /// A bake file for `models`, whose contexts are `contextOf(model)` relative to the bake file.
    public init(models: [DockerfileModel], repository: String, cacheRepository: String?, contextOf: (DockerfileModel) -> String) {
        self.repository = repository
        self.cacheRepository = cacheRepository ?? "\(repository)-cache"
        targets = models.map { model in
            let spec = model.image.spec
            return Target(
                name: Self.targetName(spec.name), image: spec.name, context: contextOf(model),
                tags: spec.config.tags.map { "${REPOSITORY}:\($0)" }, labels: model.labels,
                platforms: spec.platformNames, arguments: ["BASE": model.base])
        }
    }

    /// `v2.7-devel` → `v2-7-devel` (bake names take letters, digits, `-` and `_`).
    static func targetName(_ image: String) -> String {
        String(image.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    /// The header both forms share (as a comment in HCL, as `//` keys are not allowed in JSON).
    var header: String {
        "Written by imagegen: one target per image variant; `docker buildx bake` builds the group default. "
            + "Override REPOSITORY and CACHE_REPOSITORY from the environment."
    }

    /// The HCL form.
    public var hcl: String {
        var out = "# \(header)\n\n"
        out += "variable \"REPOSITORY\" {\n  default = \(Self.string(repository))\n}\n\n"
        out += "variable \"CACHE_REPOSITORY\" {\n  default = \(Self.string(cacheRepository))\n}\n\n"
        out += "group \"default\" {\n  targets = \(Self.list(targets.map(\.name)))\n}\n"
        for target in targets {
            out += "\ntarget \(Self.string(target.name)) {\n"
            out += "  context = \(Self.string(target.context))\n"
            out += "  dockerfile = \"Dockerfile\"\n"
            out += "  tags = \(Self.list(target.tags))\n"
            out += "  platforms = \(Self.list(target.platforms))\n"
            out += "  args = {\n" + target.arguments.sorted { $0.key < $1.key }.map { "    \($0.key) = \(Self.string($0.value))\n" }.joined() + "  }\n"
            out += "  labels = {\n" + target.labels.sorted { $0.key < $1.key }.map { "    \(Self.string($0.key)) = \(Self.string($0.value))\n" }.joined() + "  }\n"
            out += "  cache-from = \(Self.list(cacheFrom(target)))\n"
            out += "  cache-to = \(Self.list(cacheTo(target)))\n"
            out += "}\n"
        }
        return out
    }

    /// The JSON form (the same variables, group and targets).
    public var json: String {
        var targetObjects: [String: Any] = [:]
        for target in targets {
            targetObjects[target.name] = [
                "context": target.context, "dockerfile": "Dockerfile", "tags": target.tags, "platforms": target.platforms,
                "args": target.arguments, "labels": target.labels, "cache-from": cacheFrom(target), "cache-to": cacheTo(target),
            ] as [String: Any]
        }
        let object: [String: Any] = [
            "variable": ["REPOSITORY": ["default": repository], "CACHE_REPOSITORY": ["default": cacheRepository]],
            "group": ["default": ["targets": targets.map(\.name)]],
            "target": targetObjects,
        ]
        // Sorted keys: the same variants give the same bytes.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func cacheFrom(_ target: Target) -> [String] { ["type=registry,ref=${CACHE_REPOSITORY}:\(target.name)"] }
    func cacheTo(_ target: Target) -> [String] { ["type=registry,ref=${CACHE_REPOSITORY}:\(target.name),mode=max"] }

    /// An HCL string literal (`"` and `\` escaped; `${…}` kept for bake's interpolation).
    static func string(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// An HCL list of strings.
    static func list(_ values: [String]) -> String { "[" + values.map(string).joined(separator: ", ") + "]" }
}
