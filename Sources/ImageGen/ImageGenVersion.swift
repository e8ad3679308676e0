/// imagegen's version: `--version`, the Dockerfile's header, the bills of materials' tool and
/// the provenance's builder version.
public enum ImageGenVersion {
    /// The version.
    public static let current = "0.1.0"
}
