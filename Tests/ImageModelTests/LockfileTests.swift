import Foundation
import ImageModel
import OCI
import TestSupport
import Testing

/// The lock's `resolved` date: read, written back byte for byte, optional for older locks,
/// refused in one line when it is not a date.
@Suite("Lockfile: the resolved date")
struct LockfileTests {
    /// The shipped locks.
    static let shipped = ["cuda-smoke", "v2.6", "v2.7", "v2.7-devel", "v2.8", "v2.8-devel", "v2.9", "v2.9-devel", "v2.10", "v2.10-devel", "v2.15", "v2.15-devel"]

    @Test("every shipped lock has its date and is written back to the same bytes", arguments: shipped)
    func shippedLocks(_ name: String) throws {
        let path = "\(packageRoot)/Images/\(name).lock.json"
        let lock = try Lockfile.load(path: path)
        let date = try #require(lock.resolved?.rfc3339)
        #expect(date.wholeMatch(of: /20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(date)")
        #expect(date >= "2026-11-30T21:46:23Z")
        #expect(try lock.encoded() == Array(try #require(FileManager.default.contents(atPath: path))))
    }

    @Test("a lock without the field (written before it existed) loads, without a date; encoding leaves it out")
    func withoutDate() throws {
        let scratch = try ScratchDirectory()
        let text = try String(contentsOfFile: "\(packageRoot)/Images/cuda-smoke.lock.json", encoding: .utf8)
            .replacingOccurrences(of: "  \"resolved\" : \"2026-11-30T21:46:23Z\",\n", with: "")
        try writeFile(scratch("old.lock.json"), text)
        let lock = try Lockfile.load(path: scratch("old.lock.json"))
        #expect(lock.resolved == nil)
        #expect(try lock.encoded() == Array(text.utf8))
        let dated = try Lockfile.load(path: "\(packageRoot)/Images/cuda-smoke.lock.json")
        #expect(lock.pinsTheSame(as: dated) && dated.pinsTheSame(as: lock) && lock != dated)
    }

    @Test("a bad resolved value is one line naming the file, the field and the value", arguments: [
        "2026-11-30 12:00:00", "2026-11-30T12:00:00+00:00", "2026-11-31T12:00:00Z", "last tuesday",
    ])
    func badDate(_ value: String) throws {
        let scratch = try ScratchDirectory()
        let text = try String(contentsOfFile: "\(packageRoot)/Images/cuda-smoke.lock.json", encoding: .utf8)
            .replacingOccurrences(of: "\"resolved\" : \"2026-11-30T21:46:23Z\"", with: "\"resolved\" : \"\(value)\"")
        let path = scratch("bad.lock.json")
        try writeFile(path, text)
        #expect { try Lockfile.load(path: path) } throws: { error in
            "\(error)" == "\(path): resolved '\(value)': expected a UTC time to the second, YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-30T12:00:00Z)"
        }
    }

    @Test("an artifact's component is one of the components: another is refused in one line naming the field")
    func badComponent() throws {
        let scratch = try ScratchDirectory()
        let text = try String(contentsOfFile: "\(packageRoot)/Images/cuda-smoke.lock.json", encoding: .utf8)
        let range = try #require(text.range(of: "\"component\" : \"base\""))
        let path = scratch("bad.lock.json")
        try writeFile(path, text.replacingCharacters(in: range, with: "\"component\" : \"gpu\""))
        #expect { try Lockfile.load(path: path) } throws: { error in
            "\(error)".hasSuffix("'gpu' is not a component (expected one of base, driver, python, cuda, cudnn, nccl, torch, packages, tools, config) at debs[0].component")
                && "\(error)".hasPrefix(path) && !"\(error)".contains("\n")
        }
    }
}
