import Foundation
import ImageModel
import Testing

/// Checks that `values` are strictly ascending under `<`, pairwise unequal, and that sorting any
/// permutation of them gives them back in this order.
private func expectAscending<Version: Comparable & Hashable & CustomStringConvertible>(
    _ values: [Version], sourceLocation: SourceLocation = #_sourceLocation
) {
    for (i, lower) in values.enumerated() {
        for higher in values[(i + 1)...] {
            #expect(lower < higher, "\(lower) < \(higher)", sourceLocation: sourceLocation)
            #expect(!(higher < lower), "!(\(higher) < \(lower))", sourceLocation: sourceLocation)
            #expect(lower != higher, "\(lower) != \(higher)", sourceLocation: sourceLocation)
        }
    }
    #expect(values.reversed().sorted() == values, sourceLocation: sourceLocation)
    #expect(Set(values).count == values.count, sourceLocation: sourceLocation)
}

/// Checks that `a` and `b` are equal, hash alike and neither sorts before the other.
private func expectEquivalent<Version: Comparable & Hashable & CustomStringConvertible>(
    _ a: Version, _ b: Version, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(a == b, "\(a) == \(b)", sourceLocation: sourceLocation)
    #expect(a.hashValue == b.hashValue, "hash(\(a)) == hash(\(b))", sourceLocation: sourceLocation)
    #expect(!(a < b) && !(b < a), "neither of \(a), \(b) sorts first", sourceLocation: sourceLocation)
    #expect(Set([a, b]).count == 1, sourceLocation: sourceLocation)
}

/// Malformed input shared by every numeric version type.
private let malformedNumbers = [
    "", " ", "twelve", "12.x", "v12.6", "12.6 ", " 12.6", "12. 6", "12..6", "12.6.", ".6", "-12.6", "12.-6",
    "+12.6", "12.+6", "12,6", "12_6", "0x12.6", "99999999999999999999.6", "12.99999999999999999999",
    "\u{0661}\u{0662}.\u{0666}",  // Arabic-Indic digits are digits to Unicode, not to us
    "１２.６",  // full-width digits
]

@Suite("CUDA versions")
struct CUDAVersionTests {
    @Test("valid versions parse", arguments: [
        ("12.6", 12, 6, nil, "12.6"),
        ("12.6.3", 12, 6, 3, "12.6.3"),
        ("11.8.0", 11, 8, 0, "11.8.0"),
        ("13.0", 13, 0, nil, "13.0"),
        ("0.0", 0, 0, nil, "0.0"),
        ("12.06", 12, 6, nil, "12.6"),
    ] as [(String, Int, Int, Int?, String)])
    func valid(_ text: String, _ major: Int, _ minor: Int, _ patch: Int?, _ description: String) throws {
        let version = try CUDAVersion(parsing: text)
        #expect(version.major == major)
        #expect(version.minor == minor)
        #expect(version.patch == patch)
        #expect(version.description == description)
        #expect(try CUDAVersion(parsing: version.description).description == description)
    }

    @Test("malformed versions are refused", arguments: malformedNumbers + ["12", "12.6.3.1", "1.2.3.4.5"])
    func malformed(_ text: String) {
        #expect(throws: VersionError.invalid(kind: .cuda, value: text, expected: "MAJOR.MINOR[.PATCH], e.g. 12.6")) {
            try CUDAVersion(parsing: text)
        }
    }

    @Test("the error is one sentence naming the kind, the value and the grammar")
    func message() {
        #expect { try CUDAVersion(parsing: "12") } throws: {
            "\($0)" == "invalid CUDA version '12': expected MAJOR.MINOR[.PATCH], e.g. 12.6"
        }
    }

    @Test("ordering is numeric")
    func ordering() throws {
        expectAscending(try ["9.2", "11.8", "12.0", "12.1", "12.4.1", "12.6", "12.6.3", "12.8", "12.10", "13.0"]
            .map(CUDAVersion.init(parsing:)))
    }

    @Test("a missing patch counts as 0")
    func missingPatch() throws {
        expectEquivalent(try CUDAVersion(parsing: "12.6"), try CUDAVersion(parsing: "12.6.0"))
        #expect(try CUDAVersion(parsing: "12.6.0").description == "12.6.0")
    }

    @Test("majorMinor drops the patch; matches compares major and minor only")
    func majorMinor() throws {
        let version = try CUDAVersion(parsing: "12.6.3")
        #expect(version.majorMinor.description == "12.6")
        #expect(version.majorMinor.patch == nil)
        #expect(version.matches(try CUDAVersion(parsing: "12.6")))
        #expect(version.matches(try CUDAVersion(parsing: "12.6.77")))
        #expect(!version.matches(try CUDAVersion(parsing: "12.8")))
        #expect(!version.matches(try CUDAVersion(parsing: "11.6")))
    }
}

@Suite("NVIDIA driver versions")
struct DriverVersionTests {
    @Test("valid versions parse and keep their text", arguments: [
        ("525.60.13", 525, [525, 60, 13]),
        ("570.26", 570, [570, 26]),
        ("560.35.03", 560, [560, 35, 3]),
        ("450.80.02", 450, [450, 80, 2]),
    ])
    func valid(_ text: String, _ branch: Int, _ components: [Int]) throws {
        let version = try DriverVersion(parsing: text)
        #expect(version.branch == branch)
        #expect(version.components == components)
        #expect(version.description == text)
        #expect(try DriverVersion(parsing: version.description) == version)
    }

    @Test("malformed versions are refused", arguments: malformedNumbers + ["560", "560.35.03.1"])
    func malformed(_ text: String) {
        #expect {
            try DriverVersion(parsing: text)
        } throws: {
            "\($0)" == "invalid NVIDIA driver version '\(text)': expected 2 or 3 dot-separated numbers, e.g. 570.26 or 560.35.03"
        }
    }

    @Test("ordering is numeric, not textual")
    func ordering() throws {
        expectAscending(try ["450.80.02", "470.57.02", "525.60.13", "530.30.02", "550.54.14", "550.54.15",
                             "560.28.03", "560.35.03", "560.35.05", "570.26", "570.124.06", "1000.1"]
            .map(DriverVersion.init(parsing:)))
    }

    @Test("leading zeros and a missing third number do not change the value")
    func equivalence() throws {
        expectEquivalent(try DriverVersion(parsing: "560.35.03"), try DriverVersion(parsing: "560.35.3"))
        expectEquivalent(try DriverVersion(parsing: "570.26"), try DriverVersion(parsing: "570.26.0"))
    }
}

@Suite("cuDNN versions")
struct CuDNNVersionTests {
    @Test("one to four numbers parse", arguments: [
        ("9", 9, [9]),
        ("9.5", 9, [9, 5]),
        ("9.5.1", 9, [9, 5, 1]),
        ("9.5.1.17", 9, [9, 5, 1, 17]),
        ("8.9.7.29", 8, [8, 9, 7, 29]),
    ])
    func valid(_ text: String, _ major: Int, _ components: [Int]) throws {
        let version = try CuDNNVersion(parsing: text)
        #expect(version.major == major)
        #expect(version.components == components)
        #expect(version.description == text)
        #expect(try CuDNNVersion(parsing: version.description).description == text)
    }

    @Test("malformed versions are refused", arguments: malformedNumbers + ["9.5.1.17.1"])
    func malformed(_ text: String) {
        #expect {
            try CuDNNVersion(parsing: text)
        } throws: {
            "\($0)" == "invalid cuDNN version '\(text)': expected 1 to 4 dot-separated numbers, e.g. 9 or 9.5.1.17"
        }
    }

    @Test("ordering is numeric")
    func ordering() throws {
        expectAscending(try ["8.9.7.29", "9", "9.1.0.70", "9.5", "9.5.1.17", "9.7.1.26", "9.10.2.21", "9.13.0.50"]
            .map(CuDNNVersion.init(parsing:)))
        expectEquivalent(try CuDNNVersion(parsing: "9.5"), try CuDNNVersion(parsing: "9.5.0.0"))
    }
}

@Suite("NCCL versions")
struct NCCLVersionTests {
    @Test("three or four numbers parse", arguments: [
        ("2.26.2", [2, 26, 2], nil),
        ("2.21.5", [2, 21, 5], nil),
        ("2.27.3.1", [2, 27, 3], 1),
    ] as [(String, [Int], Int?)])
    func valid(_ text: String, _ numbers: [Int], _ build: Int?) throws {
        let version = try NCCLVersion(parsing: text)
        #expect([version.major, version.minor, version.patch] == numbers)
        #expect(version.build == build)
        #expect(version.description == text)
        #expect(try NCCLVersion(parsing: version.description).description == text)
    }

    @Test("malformed versions are refused", arguments: malformedNumbers + ["2", "2.26", "2.26.2.1.0", "2.26.2-1"])
    func malformed(_ text: String) {
        #expect(throws: VersionError.invalid(kind: .nccl, value: text, expected: "MAJOR.MINOR.PATCH[.BUILD], e.g. 2.26.2")) {
            try NCCLVersion(parsing: text)
        }
    }

    @Test("ordering is numeric")
    func ordering() throws {
        expectAscending(try ["2.5.6", "2.18.1", "2.21.5", "2.26.2", "2.26.2.1", "2.27.3", "2.27.5"]
            .map(NCCLVersion.init(parsing:)))
        expectEquivalent(try NCCLVersion(parsing: "2.26.2"), try NCCLVersion(parsing: "2.26.2.0"))
    }
}

@Suite("Python versions")
struct PythonVersionTests {
    @Test("valid versions parse and name their tag and package", arguments: [
        ("3.11", "3.11", "cp311", "python3.11"),
        ("3.11.7", "3.11", "cp311", "python3.11"),
        ("3.9", "3.9", "cp39", "python3.9"),
        ("3.13.0", "3.13", "cp313", "python3.13"),
    ])
    func valid(_ text: String, _ majorMinor: String, _ tag: String, _ package: String) throws {
        let version = try PythonVersion(parsing: text)
        #expect(version.description == text)
        #expect(version.majorMinor.description == majorMinor)
        #expect(version.cpythonTag == tag)
        #expect(version.debianPackage == package)
        #expect(try PythonVersion(parsing: version.description).description == text)
    }

    @Test("components")
    func components() throws {
        let version = try PythonVersion(parsing: "3.11.7")
        #expect(version.major == 3)
        #expect(version.minor == 11)
        #expect(version.micro == 7)
        #expect(version.majorMinor.micro == nil)
    }

    @Test("malformed versions are refused", arguments: malformedNumbers + ["3", "3.11.7.1", "3.11rc1", "cp311", "python3.11"])
    func malformed(_ text: String) {
        #expect {
            try PythonVersion(parsing: text)
        } throws: {
            "\($0)" == "invalid Python version '\(text)': expected MAJOR.MINOR[.MICRO], e.g. 3.11 or 3.11.7"
        }
    }

    @Test("ordering is numeric")
    func ordering() throws {
        expectAscending(try ["2.7", "3.9", "3.10", "3.11", "3.11.7", "3.11.10", "3.12", "3.13", "3.14"]
            .map(PythonVersion.init(parsing:)))
        expectEquivalent(try PythonVersion(parsing: "3.11"), try PythonVersion(parsing: "3.11.0"))
    }
}

@Suite("Debian versions")
struct DebianVersionTests {
    @Test("valid versions split into epoch, upstream and revision", arguments: [
        ("1.0", 0, "1.0", nil),
        ("2.36-9+deb12u4", 0, "2.36", "9+deb12u4"),
        ("1:1.2.13.dfsg-1", 1, "1.2.13.dfsg", "1"),
        ("1.2.13.dfsg-1+b1", 0, "1.2.13.dfsg", "1+b1"),
        ("0:1.0", 0, "1.0", nil),
        ("12.6.77-1", 0, "12.6.77", "1"),
        ("1.0~rc1-1~bpo12+1", 0, "1.0~rc1", "1~bpo12+1"),
        ("1.0-a-b", 0, "1.0-a", "b"),  // the revision starts after the last hyphen
        ("1:2:3", 1, "2:3", nil),  // colons in the upstream version are allowed with an epoch
        ("3.0.11-1~deb12u2", 0, "3.0.11", "1~deb12u2"),
        ("7.88.1-10+deb12u12", 0, "7.88.1", "10+deb12u12"),
        ("2.1+dfsg-1", 0, "2.1+dfsg", "1"),
        ("20230311", 0, "20230311", nil),
        ("1.0b1", 0, "1.0b1", nil),
    ] as [(String, Int, String, String?)])
    func valid(_ text: String, _ epoch: Int, _ upstream: String, _ revision: String?) throws {
        let version = try DebianVersion(parsing: text)
        #expect(version.epoch == epoch)
        #expect(version.upstream == upstream)
        #expect(version.revision == revision)
        #expect(version.description == text)
        #expect(try DebianVersion(parsing: version.description).description == text)
    }

    @Test("malformed versions are refused with the reason", arguments: [
        ("", "[epoch:]upstream_version[-debian_revision]"),
        ("a1.0", "the upstream version to start with a digit"),
        (" 1.0", "the upstream version to start with a digit"),
        ("-1", "the upstream version to start with a digit"),
        ("1:", "the upstream version to start with a digit"),
        ("1:-1", "the upstream version to start with a digit"),
        ("1.0 ", "the upstream version to hold only letters, digits and . + ~ - :"),
        ("1.0_1", "the upstream version to hold only letters, digits and . + ~ - :"),
        ("1.0é", "the upstream version to hold only letters, digits and . + ~ - :"),
        ("1.0-", "a revision after the last '-'"),
        ("1.0-1_2", "the revision after the last '-' to hold only letters, digits and . + ~"),
        ("1.0-1 ", "the revision after the last '-' to hold only letters, digits and . + ~"),
        (":1.0", "a number before the first ':' (the epoch)"),
        ("a:1.0", "a number before the first ':' (the epoch)"),
        ("-1:1.0", "a number before the first ':' (the epoch)"),
        ("+1:1.0", "a number before the first ':' (the epoch)"),
        ("1.0-1:2", "a number before the first ':' (the epoch)"),
        ("99999999999999999999:1.0", "a number before the first ':' (the epoch)"),
    ])
    func malformed(_ text: String, _ expected: String) {
        #expect {
            try DebianVersion(parsing: text)
        } throws: {
            "\($0)" == "invalid Debian version '\(text)': expected \(expected), e.g. 2.36-9+deb12u4 or 1:1.2.13.dfsg-1"
        }
    }

    // Each adjacent pair checked with `dpkg --compare-versions A lt B` (dpkg 1.21).
    @Test("ordering follows dpkg")
    func ordering() throws {
        expectAscending(try [
            "1.0~~", "1.0~~a", "1.0~", "1.0~rc1",  // ~ sorts before everything, even the end
            "1.0", "1.0-0.1", "1.0-1~bpo12+1", "1.0-1", "1.0-1+b1", "1.0-2", "1.0-10",
            "1.0a", "1.0+",  // the end before letters, letters before other characters
            "1.0.0", "1.0.1", "1.2.13-1", "1.2.13.dfsg-1", "1.2.13.dfsg-1+b1", "1.9", "1.10", "2.0",
            "2.36-9+deb12u4", "2.36-9+deb12u10",
            "12.4.1-1", "12.6.77-1", "550.54.15-1", "560.35.03-1",
            "100000000000000000000000", "100000000000000000000001",  // numbers of any length
            "1:0.9", "1:9.9", "2:0.1",  // the epoch outranks everything
        ].map(DebianVersion.init(parsing:)))
    }

    @Test("the table's named cases", arguments: [
        ("1.0~rc1", "1.0"),
        ("2.0", "1:0.9"),
        ("2.36-9+deb12u4", "2.36-9+deb12u10"),
        ("1.2.13-1", "1.2.13.dfsg-1"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0.1"),
    ])
    func lessThan(_ lower: String, _ higher: String) throws {
        #expect(try DebianVersion(parsing: lower) < DebianVersion(parsing: higher))
        #expect(try !(DebianVersion(parsing: higher) < DebianVersion(parsing: lower)))
    }

    // Each pair checked with `dpkg --compare-versions A eq B`.
    @Test("versions dpkg finds equal are equal and hash alike", arguments: [
        ("1.0", "0:1.0"),
        ("1.0", "1.0-0"),
        ("1.0", "1.00"),
        ("1:1.0-1", "01:1.0-01"),
        ("1.", "1.0"),
        ("1.0a", "1.0a0"),
        ("2.36-9+deb12u4", "0:2.36-9+deb12u004"),
    ])
    func equivalent(_ a: String, _ b: String) throws {
        expectEquivalent(try DebianVersion(parsing: a), try DebianVersion(parsing: b))
    }
}

@Suite("PEP 440 versions")
struct PEP440VersionTests {
    // Each expected form is what `str(packaging.version.Version(input))` prints (packaging 26.2).
    @Test("spellings normalise as PEP 440 says", arguments: [
        ("1.0", "1.0"),
        ("2.7.0+cu126", "2.7.0+cu126"),
        ("v1.0", "1.0"),
        ("V1.0", "1.0"),
        ("1.0RC1", "1.0rc1"),
        ("1.0-1", "1.0.post1"),
        ("1.0alpha1", "1.0a1"),
        ("1.0-beta.2", "1.0b2"),
        ("1.0c1", "1.0rc1"),
        ("1.0pre1", "1.0rc1"),
        ("1.0preview1", "1.0rc1"),
        ("1.0a", "1.0a0"),
        ("1.0a.", "1.0a0"),
        ("1.0_a_1", "1.0a1"),
        ("1.0.post", "1.0.post0"),
        ("1.0.POST1", "1.0.post1"),
        ("1.0-post-2", "1.0.post2"),
        ("1.0-r4", "1.0.post4"),
        ("1.0rev4", "1.0.post4"),
        ("1.0a1-1", "1.0a1.post1"),
        ("1.0.dev", "1.0.dev0"),
        ("1.0-dev_3", "1.0.dev3"),
        ("1.0b2-dev", "1.0b2.dev0"),
        ("1.0a.dev1", "1.0a0.dev1"),
        ("0!1.0", "1.0"),
        ("1!2.0", "1!2.0"),
        ("2.7.0+CU126", "2.7.0+cu126"),
        ("1.0+cpu-1", "1.0+cpu.1"),
        ("1.0+abc_01", "1.0+abc.1"),
        ("01.02.003", "1.2.3"),
        ("1.0a1.post2.dev3+local.7", "1.0a1.post2.dev3+local.7"),
    ])
    func normalise(_ text: String, _ normalised: String) throws {
        let version = try PEP440Version(parsing: text)
        #expect(version.description == normalised)
        let reparsed = try PEP440Version(parsing: version.description)
        #expect(reparsed == version)
        #expect(reparsed.description == normalised)
    }

    // Each is refused by packaging 26.2 too, except the two with surrounding whitespace, which
    // PEP 440 trims and imagegen refuses like every other version type.
    @Test("malformed versions are refused", arguments: [
        "", " ", "1.0 ", " 1.0", "abc", "v", "vv1.0", "1.0.", "1..0", "-1.0", "1,0", "1.0.x",
        "1.0+", "1.0+abc.", "1.0++cu", "1.0+cu_", "1.0 +cu126", "1.0+é", "1.0a1a2", "1.0rc1rc2", "1.0-",
        "1.0-a-b", "1.0.dev1.post1", "1.0dev1a1", "1!", "!1.0", "99999999999999999999", "1.99999999999999999999",
        "99999999999999999999!1.0", "1.0.post99999999999999999999",
    ])
    func malformed(_ text: String) {
        #expect {
            try PEP440Version(parsing: text)
        } throws: {
            "\($0)" == "invalid PEP 440 version '\(text)': expected [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], "
                + "e.g. 2.7.0, 2.8.0rc1, 1.0.post1, 2.7.0+cu126"
        }
    }

    // The chain from PEP 440's "Summary of permitted suffixes and relative ordering", extended;
    // checked ascending with packaging 26.2.
    @Test("ordering follows PEP 440")
    func ordering() throws {
        expectAscending(try [
            "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
            "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0",
            "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
            "2.7.0", "2.7.0+cpu", "2.7.0+cu118", "2.7.0+cu126", "2.7.1rc1", "2.7.1", "2.10.0", "1!0.1",
        ].map(PEP440Version.init(parsing:)))
    }

    @Test("spellings of the same version are equal and hash alike", arguments: [
        ("1.0", "1.0.0"),
        ("1.0", "1.0.0.0"),
        ("1.0+1", "1.0+01"),
        ("0!1.0", "1.0"),
        ("1.0a", "1.0a0"),
        ("1.0-1", "1.0.post1"),
        ("1.0+cu126", "1.0+CU126"),
        ("1.0+a-1", "1.0+a.1"),
    ])
    func equivalent(_ a: String, _ b: String) throws {
        expectEquivalent(try PEP440Version(parsing: a), try PEP440Version(parsing: b))
    }

    @Test("release, local label, public version and pre-release flag")
    func properties() throws {
        let torch = try PEP440Version(parsing: "2.7.0+cu126")
        #expect(torch.release == [2, 7, 0])
        #expect(torch.local == "cu126")
        #expect(torch.publicVersion.description == "2.7.0")
        #expect(torch.publicVersion.local == nil)
        #expect(torch.publicVersion < torch)
        #expect(!torch.isPrerelease)

        let candidate = try PEP440Version(parsing: "1!2.8.0RC1.post2.dev3")
        #expect(candidate.epoch == 1)
        #expect(candidate.pre?.phase == .releaseCandidate)
        #expect(candidate.pre?.number == 1)
        #expect(candidate.post == 2)
        #expect(candidate.dev == 3)
        #expect(candidate.local == nil)
        #expect(candidate.isPrerelease)

        #expect(try PEP440Version(parsing: "1.0.dev0").isPrerelease)
        #expect(try PEP440Version(parsing: "1.0.post1.dev0").isPrerelease)
        #expect(try !PEP440Version(parsing: "1.0.post1").isPrerelease)
    }
}

@Suite("Versions as JSON")
struct VersionCodingTests {
    private struct Pins: Codable, Equatable {
        var cuda: CUDAVersion
        var driver: DriverVersion
        var cudnn: CuDNNVersion
        var nccl: NCCLVersion
        var python: PythonVersion
        var libc: DebianVersion
        var torch: PEP440Version
    }

    private static let json = #"{"cuda":"12.6","cudnn":"9.5.1.17","driver":"560.35.03","libc":"2.36-9+deb12u4","#
        + #""nccl":"2.26.2","python":"3.11","torch":"2.7.0+cu126"}"#

    @Test("every version type encodes as its string and decodes back")
    func roundTrip() throws {
        let pins = Pins(
            cuda: try CUDAVersion(parsing: "12.6"),
            driver: try DriverVersion(parsing: "560.35.03"),
            cudnn: try CuDNNVersion(parsing: "9.5.1.17"),
            nccl: try NCCLVersion(parsing: "2.26.2"),
            python: try PythonVersion(parsing: "3.11"),
            libc: try DebianVersion(parsing: "2.36-9+deb12u4"),
            torch: try PEP440Version(parsing: "2.7.0+CU126")
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(pins)
        #expect(String(decoding: data, as: UTF8.self) == Self.json)
        let decoded = try JSONDecoder().decode(Pins.self, from: data)
        #expect(decoded == pins)
        #expect(try encoder.encode(decoded) == data)
    }

    @Test("a malformed version in JSON fails with the version's own message and the field", arguments: [
        ("cuda", "12", "invalid CUDA version '12'"),
        ("driver", "560", "invalid NVIDIA driver version '560'"),
        ("cudnn", "9.x", "invalid cuDNN version '9.x'"),
        ("nccl", "2.26", "invalid NCCL version '2.26'"),
        ("python", "3", "invalid Python version '3'"),
        ("libc", "a1.0", "invalid Debian version 'a1.0'"),
        ("torch", "2.7.0+", "invalid PEP 440 version '2.7.0+'"),
    ])
    func malformed(_ key: String, _ value: String, _ message: String) throws {
        var fields = try JSONDecoder().decode([String: String].self, from: Data(Self.json.utf8))
        #expect(fields[key] != nil)
        fields[key] = value
        let data = try JSONEncoder().encode(fields)
        #expect {
            try JSONDecoder().decode(Pins.self, from: data)
        } throws: { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return false }
            return context.debugDescription.hasPrefix(message) && context.codingPath.map(\.stringValue) == [key]
        }
    }

    @Test("a number where a version string belongs is refused")
    func notAString() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([CUDAVersion].self, from: Data("[12.6]".utf8))
        }
    }
}
