/// Builds the tree of one Debian component (base, python, tools): its `.deb` files unpacked
/// into an empty directory with ``DebUnpacker``, and a dpkg database whose status lists this
/// component's packages and those of every component below it.
///
/// Layers are disjoint (see DESIGN.md), but dpkg keeps one status file: each Debian layer
/// carries a complete `var/lib/dpkg/status`, so the topmost one, which the container sees,
/// lists every package of the image.
///
/// ```swift
/// let base = try DebLayerBuilder(root: "work/base").build(debs: baseDebs)
/// try SystemFixups.applyBase(root: "work/base")
/// let python = try DebLayerBuilder(root: "work/python").build(debs: pythonDebs, lowerPackages: base)
/// ```
public struct DebLayerBuilder: Sendable {
    /// The component's tree.
    public let root: String

    /// A builder for the tree at `root` (an existing directory, normally empty).
    public init(root: String) {
        self.root = root
    }

    /// Unpacks `debs` in the order given (their maintainer scripts are not run; see
    /// ``SystemFixups`` for what they would have done), writes their `info` files and a status
    /// listing `lowerPackages` and the packages unpacked here (which replace a lower package of
    /// the same name and architecture). Returns the packages unpacked here, in the order of `debs`;
    /// `facts` gets each package's declared facts (``DebUnpacker/unpackReadingFacts(_:)``) by path.
    @discardableResult
    public func build(
        debs: [String], lowerPackages: [DebPackage] = [], facts: (String, PackageFacts) throws -> Void = { _, _ in }
    ) throws -> [DebPackage] {
        let unpacker = DebUnpacker(root: root)
        var unpacked: [DebPackage] = []
        for deb in debs {
            let (package, declared) = try unpacker.unpackReadingFacts(deb)
            unpacked.append(package)
            try facts(deb, declared)
        }
        try DpkgDatabase.writeStatus(root: root, packages: lowerPackages + unpacked)
        return unpacked
    }
}
