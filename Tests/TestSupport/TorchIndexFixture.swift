import Foundation
import Glibc
import OCI

/// A package index of torch, torchvision and torchaudio releases as `imagegen catalog refresh`
/// reads it: per project an HTML page (PEP 503, with `data-core-metadata` and
/// `data-dist-info-metadata`) and a PEP 691 JSON page, each wheel's `.metadata` file (PEP 658),
/// and in place of each wheel a few bytes that are not one (a refresh never reads them).
public struct TorchIndexFixture: Sendable {
    /// One release of one project: its wheel file names and its `Requires-Dist` lines.
    public struct Release: Sendable {
        /// `torch`, `torchvision` or `torchaudio`.
        public var project: String
        /// The version.
        public var version: String
        /// The wheels' tags, `PY-ABI-PLATFORM`.
        public var tags: [String]
        /// `Requires-Dist` lines.
        public var requiresDist: [String]

        /// A release.
        public init(project: String, version: String, tags: [String], requiresDist: [String]) {
            self.project = project
            self.version = version
            self.tags = tags
            self.requiresDist = requiresDist
        }
    }

    /// torch 2.7's CUDA 12 packaging: `nvidia-*-cu12==…` with `platform_machine == "x86_64"`.
    public static func cuda12(runtime: String, cudnn: String, nccl: String, triton: String) -> [String] {
        let marker = #"; platform_system == "Linux" and platform_machine == "x86_64""#
        return ["filelock", "typing-extensions>=4.10.0",
                "nvidia-cuda-runtime-cu12==\(runtime)" + marker, "nvidia-cuda-nvrtc-cu12==\(runtime)" + marker,
                "nvidia-cublas-cu12==12.6.4.1" + marker, "nvidia-cudnn-cu12==\(cudnn)" + marker,
                "nvidia-nccl-cu12==\(nccl)" + marker, "triton==\(triton)" + marker,
                #"opt-einsum>=3.3; extra == "opt-einsum""#]
    }

    /// torch 2.11's CUDA 13 packaging: the `cuda-toolkit[…]` extras metapackage, `-cu13`
    /// libraries, `cuda-bindings`, `platform_system == "Linux"` only.
    public static let cuda13: [String] = {
        let marker = #"; platform_system == "Linux""#
        return ["filelock",
                "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2" + marker,
                "cuda-bindings<14,>=13.0.3" + marker, "nvidia-cudnn-cu13==9.19.0.56" + marker,
                "nvidia-nccl-cu13==2.28.9" + marker, "nvidia-nvshmem-cu13==3.4.5" + marker, "triton==3.7.0" + marker]
    }()

    static let linux312 = ["cp312-cp312-manylinux_2_28_x86_64", "cp312-cp312-manylinux_2_28_aarch64"]
    static let everyPlatform = linux312 + ["cp313-cp313-manylinux_2_28_x86_64", "cp313-cp313t-manylinux_2_28_x86_64",
                                            "cp312-cp312-win_amd64", "cp312-none-macosx_11_0_arm64"]

    /// torch 2.5.1 (older than the catalog follows), 2.6.0, 2.7.0, 2.7.1 (CUDA 12 packaging),
    /// 2.11.0 (CUDA 13), 2.12.0rc1 (a pre-release), and the torchvision/torchaudio that pin each.
    public static let defaultReleases: [Release] = [
        Release(project: "torch", version: "2.5.1", tags: linux312,
                requiresDist: cuda12(runtime: "12.4.127", cudnn: "9.1.0.70", nccl: "2.21.5", triton: "3.1.0")),
        Release(project: "torch", version: "2.6.0", tags: everyPlatform,
                requiresDist: cuda12(runtime: "12.4.127", cudnn: "9.1.0.70", nccl: "2.21.5", triton: "3.2.0")),
        Release(project: "torch", version: "2.7.0", tags: everyPlatform,
                requiresDist: cuda12(runtime: "12.6.77", cudnn: "9.5.1.17", nccl: "2.26.2", triton: "3.3.0")),
        Release(project: "torch", version: "2.7.1", tags: everyPlatform,
                requiresDist: cuda12(runtime: "12.6.77", cudnn: "9.5.1.17", nccl: "2.26.2", triton: "3.3.1")),
        Release(project: "torch", version: "2.11.0", tags: everyPlatform, requiresDist: cuda13),
        Release(project: "torch", version: "2.12.0rc1", tags: linux312, requiresDist: cuda13),
    ] + [("0.20.1", "2.5.1"), ("0.21.0", "2.6.0"), ("0.22.0", "2.7.0"), ("0.22.1", "2.7.1"), ("0.26.0", "2.11.0")].map {
        Release(project: "torchvision", version: $0.0, tags: linux312, requiresDist: ["numpy", "torch==\($0.1)", "pillow!=8.3.*,>=5.3.0"])
    } + ["2.5.1", "2.6.0", "2.7.0", "2.7.1", "2.11.0"].map {
        Release(project: "torchaudio", version: $0, tags: linux312, requiresDist: ["torch==\($0)"])
    }

    /// The directory served; the index is `simple/` under it.
    public let root: String

    /// Writes the index for `releases` under `root`; with `metadataHashes` off the pages say
    /// only that each metadata file exists (`data-core-metadata="true"`, PEP 714's `true`).
    /// The wheels of the projects in `wheelsOnly` have no metadata file: they are real zips
    /// (their `METADATA` deflated after a megabyte of stored noise), as on an index that does
    /// not serve PEP 658 files.
    public init(
        at root: String, releases: [Release] = Self.defaultReleases, metadataHashes: Bool = true, wheelsOnly: Set<String> = []
    ) throws {
        self.root = root
        var pages: [String: [(file: String, sha: String, metadataSHA: String?)]] = [:]
        try FileManager.default.createDirectory(atPath: "\(root)/files", withIntermediateDirectories: true)
        var zips: [[String]] = []  // [path, dist-info name, METADATA text]
        for release in releases {
            let metadata = "Metadata-Version: 2.1\nName: \(release.project)\nVersion: \(release.version)\n"
                + release.requiresDist.map { "Requires-Dist: \($0)\n" }.joined() + "\nThe description.\n"
            for tag in release.tags {
                let file = "\(release.project)-\(release.version)-\(tag).whl"
                if wheelsOnly.contains(release.project) {
                    zips.append(["\(root)/files/\(file)", "\(release.project)-\(release.version).dist-info", metadata])
                    continue
                }
                let bytes = Array("not a wheel: \(file)\n".utf8)
                try writeFile("\(root)/files/\(file)", bytes)
                try writeFile("\(root)/files/\(file).metadata", metadata)
                pages[release.project, default: []].append((file, Self.sha256(bytes), Self.sha256(Array(metadata.utf8))))
            }
        }
        if !zips.isEmpty {
            try writeFile("\(root).zips.json", [UInt8](try JSONSerialization.data(withJSONObject: zips)))
            let result = try run("python3", ["-c", Self.zipScript, "\(root).zips.json"])
            guard result.status == 0 else { throw FixtureError(message: "torch index fixture: \(result.stderr)") }
            for zip in zips {
                let file = (zip[0] as NSString).lastPathComponent
                let project = String(file.prefix { $0 != "-" })
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: zip[0])))
                pages[project, default: []].append((file, Self.sha256(bytes), nil))
            }
        }
        for (project, files) in pages {
            let links = files.map {
                let metadata = $0.metadataSHA.map { metadataHashes ? "sha256=" + $0 : "true" }
                return #"<a href="../../files/\#($0.file)#sha256=\#($0.sha)" data-requires-python="&gt;=3.9" "#
                    + (metadata.map { #"data-dist-info-metadata="\#($0)" data-core-metadata="\#($0)""# } ?? "")
                    + #">\#($0.file)</a><br/>"#
            }
            try writeFile("\(root)/simple/\(project)/index.html", "<!DOCTYPE html><html><body>\n" + links.joined(separator: "\n") + "\n</body></html>\n")
            let json: [String: Any] = [
                "meta": ["api-version": "1.1"], "name": project,
                "files": files.map {
                    ["filename": $0.file, "url": "../../files/\($0.file)", "hashes": ["sha256": $0.sha],
                     "core-metadata": $0.metadataSHA.map { metadataHashes ? ["sha256": $0] as Any : true as Any } ?? false as Any,
                     "yanked": false] as [String: Any]
                },
            ]
            try writeFile("\(root)/simple/\(project)/index.json", [UInt8](try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        }
    }

    /// Replaces a metadata file's text; the pages keep naming the old hash, if they name one.
    public func corruptMetadata(_ file: String, with text: String) throws {
        try writeFile("\(root)/files/\(file).metadata", text)
    }

    /// Writes real wheels: `[[path, dist-info directory, METADATA text]]` in the JSON file named.
    static let zipScript = #"""
        import json, random, sys, zipfile
        rng = random.Random(14)
        for path, distinfo, metadata in json.load(open(sys.argv[1])):
            with zipfile.ZipFile(path, "w") as z:
                z.writestr(zipfile.ZipInfo("pkg/noise.bin", (2020, 1, 1, 0, 0, 0)), rng.randbytes(1 << 20), zipfile.ZIP_STORED)
                z.writestr(zipfile.ZipInfo(distinfo + "/METADATA", (2020, 1, 1, 0, 0, 0)), metadata, zipfile.ZIP_DEFLATED)
                z.writestr(zipfile.ZipInfo(distinfo + "/RECORD", (2020, 1, 1, 0, 0, 0)), "", zipfile.ZIP_DEFLATED)
        """#

    static func sha256(_ bytes: [UInt8]) -> String {
        Digest.of(bytes).encoded
    }
}

/// A static server for a `TorchIndexFixture` (or any directory) on 127.0.0.1 that negotiates
/// PEP 691: a directory asked for with `Accept: application/vnd.pypi.simple.v1+json` answers
/// its `index.json`, otherwise its `index.html`. It logs each requested path, one a line, to
/// `requests.log` beside the directory, so a test can see that no wheel was fetched.
public final class SimpleIndexServer {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    public let baseURL: String
    /// The log of requested paths.
    public let logPath: String
    private let process: Process

    static let script = #"""
        import http.server, os, sys
        root, log, ranges = sys.argv[1], sys.argv[2], sys.argv[3] == "ranges"
        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k): super().__init__(*a, directory=root, **k)
            def log_message(self, *a): pass
            def end_headers(self):
                if ranges: self.send_header("Accept-Ranges", "bytes")
                super().end_headers()
            def send_head(self):
                asked = self.headers.get("Range", "") if ranges else ""
                with open(log, "a") as f:
                    f.write(("HEAD " if self.command == "HEAD" else "") + self.path + (" " + asked if asked else "") + "\n")
                path = self.translate_path(self.path)
                if asked and os.path.isfile(path):
                    import io, re
                    data = open(path, "rb").read()
                    first, last = re.fullmatch(r"bytes=(\d*)-(\d*)", asked).groups()
                    start = len(data) - int(last) if first == "" else int(first)
                    end = len(data) - 1 if first == "" or last == "" else min(int(last), len(data) - 1)
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
                    self.send_header("Content-Length", str(end - start + 1))
                    self.end_headers()
                    return io.BytesIO(data[start:end + 1])
                wants_json = "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")
                if os.path.isdir(path) and wants_json and os.path.exists(os.path.join(path, "index.json")):
                    data = open(os.path.join(path, "index.json"), "rb").read()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    import io
                    return io.BytesIO(data)
                return super().send_head()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print("port", server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Starts the server on `directory`; with `ranges` it answers HTTP range requests (and says
    /// so with `Accept-Ranges: bytes`), logging each with its `Range` header after the path.
    public init(serving directory: String, ranges: Bool = true, timeout: TimeInterval = 20) throws {
        logPath = directory + ".requests.log"
        (process, baseURL) = try LocalHTTPServer.launch(
            ["python3", "-u", "-c", Self.script, directory, logPath, ranges ? "ranges" : "whole"], name: "the index server", timeout: timeout)
    }

    /// The paths requested so far.
    public var requests: [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Stops the server (SIGKILL: see `LocalHTTPServer.stop()`).
    public func stop() { LocalHTTPServer.kill(process) }

    deinit { stop() }
}
