// swift-tools-version: 6.2
// imagegen: PyTorch-CUDA container images as typed, locked, reproducible OCI images.
// A Linux tool: it spawns processes, mounts, chroots and reads /proc through Glibc; it declares
// no Apple platform because it runs on none.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "imagegen",
    products: [
        .executable(name: "imagegen", targets: ["imagegen"]),
        .library(name: "ImageGen", targets: ["ImageGen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.36.0"),
    ],
    targets: [
        // C libraries, linked from the system (see scripts/install-deps.sh).
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // posix_spawn's chdir and closefrom file actions, which Swift's Glibc module hides.
        .target(name: "CSpawn"),
        // Inflate through ISA-L, loaded at run time (dlopen), so a host without it falls back to zlib.
        .target(name: "CInflate", linkerSettings: [.linkedLibrary("dl")]),
        // The floor under every module: running programs, doing work in parallel, scratch
        // folders, paths inside trees, and reading archives with libarchive.
        .target(name: "SystemSupport", dependencies: ["CSpawn", "CArchive"], swiftSettings: strict),
        // The OCI vocabulary: digests, media types, documents, layouts, archives.
        .target(name: "OCI", dependencies: ["SystemSupport", "CCrypto"], swiftSettings: strict),
        // Versions, components, the compatibility catalog, specs, the graph and the lockfile.
        // The catalog is data (Catalog/catalog.yaml), compiled into the binary.
        .target(
            name: "ImageModel", dependencies: ["OCI", .product(name: "Yams", package: "Yams")],
            resources: [.embedInCode("Catalog/catalog.yaml")], swiftSettings: strict),
        // Resolving and fetching artifacts through apt and pip.
        .target(name: "Artifacts", dependencies: ["ImageModel", "OCI", "Layers", "SystemSupport"], swiftSettings: strict),
        // Deterministic tar layers: writing, reading, compression, hashing in one pass.
        .target(name: "Layers", dependencies: ["OCI", "SystemSupport", "CInflate", "CZlib", "CZstd"], swiftSettings: strict),
        // Component trees: Debian packages unpacked with a dpkg database, wheels installed into a venv.
        .target(name: "Rootfs", dependencies: ["OCI", "Layers", "ImageModel", "SystemSupport", "CCrypto"], swiftSettings: strict),
        // Bills of materials (SPDX 2.3, CycloneDX 1.6) and SLSA provenance of a built image.
        .target(name: "SupplyChain", dependencies: ["OCI", "ImageModel", "Rootfs"], swiftSettings: strict),
        // The Mustache templates of Templates/ (Dockerfiles), compiled into the binary.
        .target(
            name: "Templates", path: "Templates", exclude: ["README.md"],
            resources: [.embedInCode("Dockerfile.runtime.mustache"), .embedInCode("Dockerfile.devel.mustache"), .embedInCode("components.mustache")],
            swiftSettings: strict),
        // Orchestration: pack directory trees into images, verify images, render Dockerfiles.
        // cuda-check, the program every CUDA image carries, is embedded in the binary (docs/gpu.md).
        .target(
            name: "ImageGen",
            dependencies: [
                "OCI", "Layers", "ImageModel", "Artifacts", "Rootfs", "SupplyChain", "Templates", "SystemSupport",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.embedInCode("Resources/cuda-check.py")], swiftSettings: strict),
        // The OCI distribution client: auth, blob and manifest transfer, retries (the only NIO user).
        .target(
            name: "Registry",
            dependencies: [
                "OCI",
                "SystemSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // The registry as a shared store: a layer cache keyed by inputs, a mirror of the locked
        // artifacts, and publishing an image from local and cached layers.
        .target(
            name: "RegistryStore", dependencies: ["ImageGen", "Artifacts", "ImageModel", "Layers", "OCI", "Registry", "SystemSupport"],
            swiftSettings: strict),
        // The thin command-line front end.
        .executableTarget(
            name: "imagegen",
            dependencies: [
                "ImageGen", "ImageModel", "OCI", "Registry", "RegistryStore", "SupplyChain", "SystemSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Helpers the test targets share: scratch directories, processes, fixture trees, and the
        // small image built offline from a lock (TinyImageFixture.swift).
        .target(name: "TestSupport", dependencies: ["OCI", "ImageModel", "ImageGen", "Artifacts", "Layers", "SystemSupport"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"], swiftSettings: strict),
        // The CLI's own logic that reads no flags: the progress renderer.
        .testTarget(name: "imagegenTests", dependencies: ["imagegen", "SystemSupport"], swiftSettings: strict),
        .testTarget(name: "OCITests", dependencies: ["OCI", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ImageModelTests", dependencies: ["ImageModel", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "RootfsTests", dependencies: ["Rootfs", "Layers", "OCI", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ArtifactsTests", dependencies: ["Artifacts", "ImageModel", "SystemSupport", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SupplyChainTests", dependencies: ["SupplyChain", "Rootfs", "OCI"], swiftSettings: strict),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "OCI", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "ImageGen", "Layers", "OCI", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RegistryStoreTests",
            dependencies: ["RegistryStore", "Registry", "ImageGen", "Artifacts", "ImageModel", "Layers", "OCI", "SystemSupport", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "ImageGenTests", dependencies: ["ImageGen", "ImageModel", "Artifacts", "Layers", "OCI", "TestSupport"], swiftSettings: strict),
    ]
)
