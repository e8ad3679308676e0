import Foundation
import Layers
import Synchronization
import TestSupport
import Testing

/// libarchive's disk writer reads the umask by setting it to 0 and back; made from several
/// threads at once without `ArchiveDiskWriter`'s lock, that left the test process at umask 0
/// (and every build after it changed). Many extractors are made and dropped on four threads;
/// the process umask, read from /proc without touching it, must not move.
@Suite("libarchive disk writers and the umask")
struct ArchiveDiskWriterTests {
    static func processUmask() throws -> String {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        return line.split(separator: "\t").last.map(String.init) ?? ""
    }

    @Test("extractors made on four threads at once leave the process umask as it was")
    func umaskKept() throws {
        let scratch = try ScratchDirectory()
        try writeFile(scratch("tree/file"), "x")
        let archive = scratch("a.tar")
        #expect(try run("tar", ["-cf", archive, "-C", scratch("tree"), "file"]).status == 0)
        let before = try Self.processUmask()
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<4000 {
                if (try? ArchiveExtractor(path: archive)) == nil { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(try Self.processUmask() == before)
    }
}
