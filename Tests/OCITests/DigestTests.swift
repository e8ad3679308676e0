import Foundation
import OCI
import Testing

@Suite("Digest and MediaType grammar")
struct DigestTests {
    @Test("valid digests parse and print back", arguments: [
        "sha256:" + String(repeating: "a", count: 64),
        "sha512:" + String(repeating: "0", count: 128),
    ])
    func valid(_ value: String) throws {
        #expect(try Digest(parsing: value).description == value)
    }

    @Test("invalid digests are refused with a reason", arguments: [
        ("sha256", "expected 'algorithm:encoded'"),
        ("sha256:abc", "needs 64 lowercase hex digits"),
        ("sha256:" + String(repeating: "A", count: 64), "needs 64 lowercase hex digits"),
        ("md5:" + String(repeating: "a", count: 32), "unsupported algorithm 'md5'"),
        ("SHA256:" + String(repeating: "a", count: 64), "algorithm must match"),
        (":" + String(repeating: "a", count: 64), "algorithm must match"),
    ])
    func invalid(_ value: String, _ reason: String) {
        #expect {
            try Digest(parsing: value)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".contains("invalid digest")
        }
    }

    @Test("the SHA-256 of known input")
    func knownHash() {
        #expect(Digest.of(Array("abc".utf8)).encoded == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.of([UInt8](), algorithm: .sha512).encoded.hasPrefix("cf83e1357eefb8bd"))
    }

    @Test("streaming hashes equal one-shot hashes")
    func streaming() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        let hasher = DigestHasher()
        for chunk in stride(from: 0, to: bytes.count, by: 777) {
            hasher.update(Array(bytes[chunk..<min(chunk + 777, bytes.count)]))
        }
        #expect(hasher.count == 100_000)
        #expect(hasher.finalize() == Digest.of(bytes))
    }

    @Test("media types follow RFC 6838", arguments: [
        ("application/vnd.oci.image.layer.v1.tar+zstd", true),
        ("application/json", true),
        ("application", false),
        ("application/", false),
        ("a/b/c", false),
        ("application/x y", false),
    ])
    func mediaTypes(_ value: String, _ valid: Bool) {
        #expect((try? MediaType(parsing: value)) != nil || !valid)
        #expect((try? MediaType(parsing: value)) == nil || valid)
    }

    @Test("layer media types name their compression")
    func compression() {
        #expect(MediaType.layerTarGzip.layerCompression == .gzip)
        #expect(MediaType.layerTarZstd.layerCompression == .zstd)
        #expect(MediaType.layerTar.layerCompression == LayerCompressionKind.none)
        #expect(MediaType.imageConfig.layerCompression == nil)
    }
}

@Suite("Canonical JSON and build time")
struct CanonicalJSONTests {
    @Test("keys are sorted, slashes unescaped, empty objects are {}")
    func canonical() throws {
        var config = ContainerConfig()
        config.workingDir = "/workspace"
        config.exposedPorts = ["8888/tcp": EmptyObject(), "22/tcp": EmptyObject()]
        config.env = ["PATH=/opt/venv/bin:/usr/bin"]
        let json = String(decoding: try CanonicalJSON.encode(config), as: UTF8.self)
        #expect(json == #"{"Env":["PATH=/opt/venv/bin:/usr/bin"],"ExposedPorts":{"22/tcp":{},"8888/tcp":{}},"WorkingDir":"/workspace"}"#)
    }

    @Test("a manifest round-trips and encodes to the same bytes")
    func roundTrip() throws {
        let config = Descriptor(mediaType: .imageConfig, digest: Digest.of(Array("{}".utf8)), size: 2)
        let manifest = Manifest(config: config, layers: [], annotations: ["b": "2", "a": "1"])
        let bytes = try CanonicalJSON.encode(manifest)
        let decoded = try CanonicalJSON.decode(Manifest.self, from: bytes, name: "manifest")
        #expect(decoded == manifest)
        #expect(try CanonicalJSON.encode(decoded) == bytes)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"annotations":{"a":"1","b":"2"},"config":"#))
    }

    @Test("malformed documents name the document and the field")
    func malformed() {
        #expect { try CanonicalJSON.decode(Index.self, from: Array("{".utf8), name: "index.json") } throws: {
            "\($0)" == "index.json: malformed JSON: not valid JSON"
        }
        #expect { try CanonicalJSON.decode(Index.self, from: Array(#"{"schemaVersion":2}"#.utf8), name: "index.json") } throws: {
            "\($0)" == "index.json: malformed JSON: missing field 'manifests'"
        }
        let badDigest = #"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:zz","size":1}]}"#
        #expect { try CanonicalJSON.decode(Index.self, from: Array(badDigest.utf8), name: "index.json") } throws: {
            "\($0)".contains("invalid digest 'sha256:zz'") && "\($0)".contains("manifests[0].digest")
        }
    }

    @Test("SOURCE_DATE_EPOCH sets the one build time", arguments: [
        ("", "1970-01-01T00:00:00Z"),
        ("0", "1970-01-01T00:00:00Z"),
        ("1700000000", "2023-11-14T22:13:20Z"),
        ("951782400", "2000-02-29T00:00:00Z"),
    ])
    func buildTime(_ value: String, _ expected: String) throws {
        #expect(try BuildTime(environment: ["SOURCE_DATE_EPOCH": value]).rfc3339 == expected)
    }

    @Test("RFC 3339 UTC times read back to the seconds they were written from", arguments: [
        Int64(0), 951_782_400, 1_700_000_000, 1_796_070_383, 4_107_542_399, 8_589_934_591,
    ])
    func rfc3339RoundTrip(_ seconds: Int64) throws {
        let time = BuildTime(seconds: seconds)
        #expect(try BuildTime(rfc3339: time.rfc3339, name: "t") == time)
        let json = try CanonicalJSON.encode(["resolved": time])
        #expect(String(decoding: json, as: UTF8.self) == "{\"resolved\":\"\(time.rfc3339)\"}")
        #expect(try JSONDecoder().decode([String: BuildTime].self, from: Data(json))["resolved"] == time)
    }

    @Test("a time that is not UTC to the second, or not a date, is refused naming the field and the value", arguments: [
        "2026-11-30", "2026-11-30T12:00:00", "2026-11-30T12:00:00+01:00", "2026-11-30T12:00:00.5Z", "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-30T24:00:00Z", "1969-12-31T23:59:59Z", "2026-11-30t12:00:00z",
        "２026-11-30T12:00:00Z", "yesterday", "",
    ])
    func badRFC3339(_ text: String) {
        #expect { try BuildTime(rfc3339: text, name: "resolved") } throws: {
            "\($0)" == "resolved '\(text)': expected a UTC time to the second, YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-30T12:00:00Z)"
        }
    }

    @Test("the created date: SOURCE_DATE_EPOCH over the lock's date over the epoch; files never take the lock's date")
    func createdDate() {
        let resolved = BuildTime(seconds: 1_796_070_383)
        let epoch = BuildTime(seconds: 1_700_000_000)
        #expect(BuildTime.created(sourceDateEpoch: nil, resolved: resolved) == resolved)
        #expect(BuildTime.created(sourceDateEpoch: epoch, resolved: resolved) == epoch)
        #expect(BuildTime.created(sourceDateEpoch: nil, resolved: nil) == .epoch)
        #expect(BuildTime.fileTime(sourceDateEpoch: nil) == .epoch)
        #expect(BuildTime.fileTime(sourceDateEpoch: epoch) == epoch)
    }

    @Test("a bad SOURCE_DATE_EPOCH is refused", arguments: ["yesterday", "-5", "1.5"])
    func badBuildTime(_ value: String) {
        #expect { try BuildTime(environment: ["SOURCE_DATE_EPOCH": value]) } throws: {
            "\($0)".hasPrefix("SOURCE_DATE_EPOCH '\(value)': expected whole seconds")
        }
    }
}
