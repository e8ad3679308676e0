/// The Mustache templates of this folder, compiled into the binary: SwiftPM embeds each file
/// (`.embedInCode` in Package.swift) as bytes, so `imagegen dockerfile` needs no file beside it.
public enum BuiltinTemplates {
    /// The Dockerfile template for each CUDA flavour, by flavour name.
    public static let dockerfiles: [String: String] = [
        "runtime": text(PackageResources.Dockerfile_runtime_mustache),
        "devel": text(PackageResources.Dockerfile_devel_mustache),
    ]

    /// Partials the Dockerfile templates include (`{{> components}}`), by name.
    public static let partials: [String: String] = [
        "components": text(PackageResources.components_mustache)
    ]

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
