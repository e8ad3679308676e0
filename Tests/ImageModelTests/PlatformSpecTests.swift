import Foundation
import ImageModel
import OCI
import TestSupport
import Testing

/// `platforms:` in a spec, the catalog's answer to "does this torch release have CUDA wheels
/// for arm64", and a lock that holds several platforms' resolutions.
@Suite("Platforms: the spec key, the catalog's CUDA machines, the multi-platform lock")
struct PlatformSpecTests {
    @Test("platforms lists the image's platforms, the first one the base's; without the key, the base's architecture alone and the same spec digest")
    func specKey() throws {
        let both = try loadSpec("x", ["x": "name: x\nplatforms: [linux/arm64, linux/amd64]\n\(minimalBody)"])
        #expect(both.platformNames == ["linux/arm64", "linux/amd64"])
        #expect(both.base.architecture == "arm64")
        #expect(both.forPlatform("linux/amd64").base.architecture == "amd64")

        let plain = try loadSpec("x", ["x": "name: x\n\(minimalBody)"])
        #expect(plain.platforms == nil)
        #expect(plain.platformNames == ["linux/amd64"])
        #expect(try !String(decoding: CanonicalJSON.encode(plain), as: UTF8.self).contains("platforms"))
        #expect(try Lockfile.digest(of: plain) != Lockfile.digest(of: both))

        // Inherited through extends, like any other key.
        let child = try loadSpec("c", ["p": "name: p\nplatforms: [linux/amd64, linux/arm64]\n\(minimalBody)", "c": "name: c\nextends: p\n"])
        #expect(child.platformNames == ["linux/amd64", "linux/arm64"])
        // A written base.architecture that agrees with the first platform is fine.
        let agreeing = try loadSpec("x", ["x": "name: x\nplatforms: [linux/amd64, linux/arm64]\nbase:\n  release: bookworm\n  architecture: amd64\n"])
        #expect(agreeing.base.architecture == "amd64")
    }

    @Test("bad platforms", arguments: [
        ("platforms: [linux/s390x]", "Images/x.yaml, line 2: platforms: expected linux/amd64 or linux/arm64, got 'linux/s390x'"),
        ("platforms: [linux/arm64/v8]", "platforms: expected linux/amd64 or linux/arm64, got 'linux/arm64/v8'"),
        ("platforms: [linux/amd64, linux/amd64]", "platforms: duplicate platform 'linux/amd64'"),
        ("platforms: []", "Images/x.yaml, line 2: platforms: an empty list; name linux/amd64, linux/arm64 or both (or leave the key out)"),
        ("platforms: linux/amd64", "platforms: expected a list, got a scalar"),
    ])
    func badPlatforms(_ line: String, _ message: String) throws {
        #expect { try loadSpec("x", ["x": "name: x\n\(line)\n\(minimalBody)"]) } throws: { error in
            "\(error)".contains(message) && !"\(error)".contains("\n")
        }
    }

    @Test("base.architecture that is not the first platform is refused, naming both")
    func disagreeing() throws {
        #expect {
            try loadSpec("x", ["x": "name: x\nplatforms: [linux/arm64, linux/amd64]\nbase:\n  release: bookworm\n  architecture: amd64\n"])
        } throws: { error in
            "\(error)".hasSuffix(
                "Images/x.yaml, line 5: base.architecture 'amd64' disagrees with platforms, whose first entry (linux/arm64) is the base's; "
                    + "leave base.architecture out when the spec lists platforms")
        }
    }

    @Test("a marker's platform_machine clauses decide where a pin applies")
    func markers() throws {
        func applies(_ line: String, _ machine: String) -> Bool { Requirement(line)!.applies(onMachine: machine) }
        #expect(applies(#"nvidia-cudnn-cu12==9.5.1.17; platform_system == "Linux" and platform_machine == "x86_64""#, "x86_64"))
        #expect(!applies(#"nvidia-cudnn-cu12==9.5.1.17; platform_system == "Linux" and platform_machine == "x86_64""#, "aarch64"))
        #expect(applies(#"nvidia-cudnn-cu13==9.26.0.51; platform_system == "Linux""#, "aarch64"))
        #expect(applies("numpy", "aarch64"))
        #expect(!applies(#"triton; platform_machine != 'aarch64'"#, "aarch64"))
        #expect(applies(#"x; platform_machine == 'aarch64' or platform_machine == 'x86_64'"#, "aarch64"))
    }

    @Test("the catalog: CUDA wheels for aarch64 from torch 2.11.0 on, never before")
    func cudaMachines() throws {
        let catalog = try Catalog.builtin()
        for release in catalog.torch {
            let eleven = try PEP440Version(parsing: "2.11.0")
            #expect(release.cudaMachines.contains("x86_64"), "\(release.version)")
            #expect(release.cudaMachines.contains("aarch64") == (release.version >= eleven), "\(release.version): \(release.cudaMachines)")
        }
    }

    @Test("arm64 with CUDA on torch 2.7 is refused with a sentence that names the first release that has it; v2.15 resolves for both")
    func refused() throws {
        let text = try String(contentsOfFile: "\(packageRoot)/Images/v2.7.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  architecture: amd64\n", with: "")
            .replacingOccurrences(of: "name: v2.7\n", with: "name: v2.7\nplatforms: [linux/amd64, linux/arm64]\n")
        let scratch = try ScratchDirectory()
        try writeFile(scratch("Images/v2.7.yaml"), text)
        let spec = try SpecLoader(directory: scratch("Images")).load("v2.7")
        #expect { try ImageResolver(catalog: .builtin()).resolve(spec) } throws: { error in
            guard let conflict = error as? ConflictError else { return false }
            return conflict.conflicts.contains {
                $0.hasPrefix("torch 2.7.1 has no CUDA wheels for linux/arm64 (")
                    && $0.hasSuffix("its aarch64 wheel on the index asks for no CUDA libraries there; the first release with CUDA wheels for linux/arm64 in the catalog is 2.11.0")
            }
        }
        let v215 = try SpecLoader(directory: packageRoot + "/Images").load("v2.15")
        #expect(v215.platformNames == ["linux/amd64", "linux/arm64"])
        for platform in v215.platformNames {
            let image = try ImageResolver(catalog: .builtin()).resolve(v215.forPlatform(platform))
            #expect(image.graph.node(.base)?.label == "debian bookworm \(ImageSpec.architecture(of: platform))")
        }
    }

    @Test("a multi-platform lock: the first platform at the top, the others in otherPlatforms; each platform's lock alone; a platform twice is refused")
    func lock() throws {
        let lock = try Lockfile.load(path: "\(packageRoot)/Images/v2.15.lock.json")
        #expect(lock.platforms == ["linux/amd64", "linux/arm64"])
        let arm64 = try #require(lock.forPlatform("linux/arm64"))
        #expect(arm64.otherPlatforms == nil && arm64.platform == "linux/arm64" && arm64.specDigest == lock.specDigest)
        #expect(Set(arm64.debs.map(\.architecture)) == ["all", "arm64"])
        #expect(arm64.wheels.contains { $0.name == "torch" && $0.fileName.hasSuffix("manylinux_2_28_aarch64.whl") })
        #expect(arm64.wheels.contains { $0.name == "nvidia-cudnn-cu13" })
        #expect(lock.forPlatform("linux/riscv64") == nil)
        // A lock that lost a platform's resolution is stale for the spec that lists it.
        let spec = try SpecLoader(directory: packageRoot + "/Images").load("v2.15")
        #expect(try lock.matches(spec))
        var lost = lock
        lost.otherPlatforms = nil
        #expect(try !lost.matches(spec))
        #expect(Lockfile.combining(lock.perPlatform) == lock)
        #expect(lock.forPlatform("linux/amd64").map { Lockfile.combining([$0]).otherPlatforms } == .some(nil))

        let scratch = try ScratchDirectory()
        var twice = lock
        twice.otherPlatforms = [lock.otherPlatforms![0], lock.otherPlatforms![0]]
        try writeFile(scratch("twice.lock.json"), try twice.encoded())
        #expect { try Lockfile.load(path: scratch("twice.lock.json")) } throws: { error in
            "\(error)" == "\(scratch("twice.lock.json")): otherPlatforms: platform 'linux/arm64' is resolved twice; run `imagegen lock v2.15` again"
        }
    }
}
