import Layers
import SystemSupport

/// A wheel's zip, read with ``ArchiveReader`` through its central directory (the seekable zip
/// reader), which is where the members' unix modes are (the external attributes), and what
/// Python's `zipfile` and pip read too. Members come in central-directory order; their
/// contents are streamed in libarchive's blocks, CRC-checked by libarchive.
final class WheelArchive {
    /// One member's header.
    struct Member {
        /// What a member is.
        enum Kind { case file, directory, symlink, other }

        /// The name as stored in the zip.
        var name: String
        /// Its kind, from the unix mode (or the trailing `/` of a directory; no type bits: a file).
        var kind: Kind
        /// The permission bits.
        var permissions: UInt32
        /// The uncompressed size the zip declares.
        var size: Int64
    }

    private let reader: ArchiveReader
    /// The wheel's file name, for messages.
    let wheel: String

    /// Opens the wheel at `path`; `wheel` names it in errors.
    init(path: String, wheel: String) throws {
        self.wheel = wheel
        // Names as UTF-8 where the zip says they are, else the stored bytes (ill-formed ones
        // with U+FFFD); the checks of WheelPlan decide what a name may be.
        reader = try Self.reading(wheel) { try ArchiveReader(.file(path), format: .zip, invalidNames: .repair, name: wheel) }
    }

    /// Runs a read, turning libarchive's failure into an error naming the wheel.
    private static func reading<T>(_ wheel: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ArchiveReaderError {
            throw RootfsError.invalidWheel(wheel: wheel, reason: "not a readable zip: \(error.message)")
        }
    }

    /// The next member's header, or nil at the end; its contents are skipped unless read.
    func next() throws -> Member? {
        guard let entry = try Self.reading(wheel, { try reader.next() }) else { return nil }
        // The one rule of every zip reader here: a mode without file-type bits (hatchling and
        // flit write `0o644 << 16` for METADATA and RECORD) is a regular file, or a directory
        // when the name ends in `/` — whether or not libarchive filled the type in.
        let kind: Member.Kind
        switch ZipDirectory.kind(unixMode: entry.mode, name: entry.name) {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        case .other: kind = .other
        }
        return Member(name: entry.name, kind: kind, permissions: entry.permissions, size: entry.size ?? 0)
    }

    /// Streams the current member's contents to `body`, block by block.
    func read(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var expected: Int64 = 0
        let wheel = wheel
        try Self.reading(wheel) {
            try reader.readBlocks { block, offset in
                // Zip members are never sparse: a hole would mean a reader this code does not expect.
                guard offset == expected else { throw RootfsError.invalidWheel(wheel: wheel, reason: "unexpected sparse member data") }
                expected += Int64(block.count)
                if !block.isEmpty { try body(block) }
            }
        }
    }

    /// The current member's contents, if at most `limit` bytes; nil if larger.
    func readAll(limit: Int) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var tooLarge = false
        try read { chunk in
            guard !tooLarge else { return }
            if bytes.count + chunk.count > limit {
                tooLarge = true
                bytes = []
            } else {
                bytes.append(contentsOf: chunk)
            }
        }
        return tooLarge ? nil : bytes
    }
}
