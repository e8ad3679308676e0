@testable import Artifacts
import Foundation
import OCI
import struct SystemSupport.ProcessOutput
import Testing
import TestSupport

@Suite("Reading what apt and pip print")
struct ParsingTests {
    @Test("deb822 paragraphs: case-insensitive names, continuations, comments, CRLF, blank lines with spaces")
    func controlFile() {
        let text = "# a comment\r\nPackage: one\r\nVERSION:  1.0 \r\nDescription: first\r\n more\r\n\tand more\r\n \r\n"
            + "package: two\nVersion: 2.0\nIgnored: x\n\n\n# only a comment\n\nPackage: three"
        let paragraphs = ControlFile.paragraphs(Array(text.utf8), fields: ["package", "version", "description"])
        #expect(paragraphs == [
            ["package": "one", "version": "1.0", "description": "first\nmore\nand more"],
            ["package": "two", "version": "2.0"],
            ["package": "three"],
        ])
    }

    @Test("apt's --print-uris line: store name quoted by apt, URI kept only in memory")
    func printedURI() throws {
        let line = "'http://example.invalid/debian/pool/main/l/lib/lib%2bx_2.0-1%2bb1_amd64.deb' "
            + "lib+x_1%3a2.0-1+b1_amd64.deb 1234 MD5Sum:0123456789abcdef0123456789abcdef"
        let printed = try PrintedURI(line: line)
        #expect(printed.name == "lib+x")
        #expect(printed.version == "1:2.0-1+b1")
        #expect(printed.architecture == "amd64")
        #expect(printed.size == 1234)
        #expect(printed.uri.hasSuffix("/pool/main/l/lib/lib+x_2.0-1+b1_amd64.deb"))
        #expect(throws: ArtifactsError.self) { try PrintedURI(line: "'http://x/a.deb' a.deb 12 MD5Sum:00") }
    }

    @Test("one version listed by two sources: the entry whose path ends apt's URI wins")
    func duplicateVersions() throws {
        let scratch = try ScratchDirectory("imagegen-lists")
        let sha = { (c: Character) in String(repeating: c, count: 64) }
        try writeFile(scratch("a_Packages"), """
            Package: lib
            Version: 1.0
            Architecture: amd64
            Filename: ./mirror-a/lib_1.0_amd64.deb
            Size: 10
            SHA256: \(sha("a"))

            """)
        try writeFile(scratch("b_Packages"), """
            Package: lib
            Version: 1.0
            Architecture: amd64
            Filename: pool/lib_1.0_amd64.deb
            Size: 10
            SHA256: \(sha("B"))

            Package: nosum
            Version: 1.0
            Architecture: all
            Filename: pool/nosum_1.0_all.deb
            Size: 3

            """)
        let index = try PackagesIndex(listsDirectory: scratch.path)
        let b = try index.artifact(for: PrintedURI(line: "'http://h/b/pool/lib_1.0_amd64.deb' lib_1.0_amd64.deb 10 MD5Sum:0"))
        #expect(b.sha256.encoded == sha("b"))
        #expect(b.poolPath == "pool/lib_1.0_amd64.deb")
        let a = try index.artifact(for: PrintedURI(line: "'http://h/a/./mirror-a/lib_1.0_amd64.deb' lib_1.0_amd64.deb 10 MD5Sum:0"))
        #expect(a.poolPath == "mirror-a/lib_1.0_amd64.deb")
        #expect(a.fileName == "lib_1.0_amd64.deb")
        #expect(throws: ArtifactsError.missingChecksum(package: "nosum", version: "1.0")) {
            try index.artifact(for: PrintedURI(line: "'http://h/pool/nosum_1.0_all.deb' nosum_1.0_all.deb 3 MD5Sum:0"))
        }
        #expect(throws: ArtifactsError.notInIndex(package: "lib", version: "9", architecture: "amd64")) {
            try index.artifact(for: PrintedURI(line: "'http://h/pool/lib_9_amd64.deb' lib_9_amd64.deb 3 MD5Sum:0"))
        }
    }

    @Test("apt's failure: unmet dependencies, then its E: lines")
    func aptErrorMessage() {
        let output = ProcessOutput(
            status: .exited(100),
            stdout: Array(("Reading package lists...\nThe following packages have unmet dependencies:\n"
                + " app : Depends: lib (>= 3) but 2 is to be installed\n").utf8),
            stderr: Array("W: something\nE: Unable to correct problems, you have held broken packages.\n".utf8))
        #expect(AptResolver.errorMessage(output) == "The following packages have unmet dependencies:; "
            + "app : Depends: lib (>= 3) but 2 is to be installed; Unable to correct problems, you have held broken packages.")
        #expect(AptResolver.errorMessage(ProcessOutput(status: .exited(127), stdout: [], stderr: Array("env: 'apt-get': No such file\n".utf8)))
            == "env: 'apt-get': No such file")
    }

    @Test("pip's failure without an ERROR line says how pip ended and its last word, stderr's first")
    func pipFailureWithoutErrorLine() {
        let traceback = ProcessOutput(
            status: .exited(2), stdout: Array("Would install demo-1.0\n".utf8),
            stderr: Array("Traceback (most recent call last):\n  File \"x\", line 1\nOSError: [Errno 28] No space left on device\n".utf8))
        #expect(PipResolver.errorMessage(traceback) == "exit status 2: OSError: [Errno 28] No space left on device")
        let quiet = ProcessOutput(status: .exited(1), stdout: Array("Would install demo-1.0\n\n".utf8), stderr: [])
        #expect(PipResolver.errorMessage(quiet) == "exit status 1: Would install demo-1.0")
        #expect(PipResolver.errorMessage(ProcessOutput(status: .signalled(9), stdout: [], stderr: [])) == "signal 9")
    }

    @Test("pip's report: new and old hash fields, URL-encoded file names, no URL kept")
    func report() throws {
        let json = #"""
            {"version": "1", "install": [
              {"download_info": {"url": "https://files.example.invalid/p/torch-2.7.0%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl",
                                 "archive_info": {"hash": "sha256=ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}},
               "metadata": {"name": "torch", "version": "2.7.0+cu126", "requires_dist": ["filelock", "sympy>=1.13.3"]}},
              {"download_info": {"url": "file:///opt/wheels/six-1.17.0-py2.py3-none-any.whl",
                                 "archive_info": {"hashes": {"sha256": "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"}}},
               "metadata": {"name": "six", "version": "1.17.0"}}
            ]}
            """#
        let chosen = try PipResolver.parseReport(Data(json.utf8))
        #expect(chosen.map(\.fileName) == [
            "torch-2.7.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl", "six-1.17.0-py2.py3-none-any.whl",
        ])
        #expect(chosen[0].sha256.description == "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
        #expect(chosen[0].requiresDist == ["filelock", "sympy>=1.13.3"])
        #expect(chosen[1].requiresDist == [])
        #expect(chosen[1].url.isFileURL)
    }

    @Test("a report entry without a SHA-256, or not an archive, is refused")
    func reportRefusals() {
        let noHash = #"{"install": [{"download_info": {"url": "https://x.invalid/a-1-py3-none-any.whl", "archive_info": {}}, "metadata": {"name": "a", "version": "1"}}]}"#
        #expect(throws: ArtifactsError.missingChecksum(package: "a", version: "1")) {
            try PipResolver.parseReport(Data(noHash.utf8))
        }
        let directory = #"{"install": [{"download_info": {"url": "file:///src/a", "dir_info": {}}, "metadata": {"name": "a", "version": "1"}}]}"#
        #expect(throws: ArtifactsError.self) { try PipResolver.parseReport(Data(directory.utf8)) }
    }

    @Test("every error reads as one line")
    func oneLineErrors() {
        let error = ArtifactsError.pipFailed(message: "first\n\n  second  \nthird")
        #expect(error.description == "pip failed: first; second; third")
    }
}
