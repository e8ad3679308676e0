import Foundation
import Layers
import OCI
import FoundationNetworking

/// A wheel's core metadata (`NAME-VERSION.dist-info/METADATA`) read from the wheel on the index
/// with HTTP range requests — the end of its zip directory, the directory, and that one member —
/// for an index that serves no PEP 658 metadata file. A few requests of a few dozen KiB instead
/// of the whole wheel; a server that does not answer ranges is refused rather than downloaded.
enum RemoteWheelMetadata {
    /// The largest central directory or METADATA member read this way (16 MiB).
    static let largest: Int64 = 16 << 20

    /// The METADATA text of the wheel `file`.
    static func read(_ file: SimpleIndex.File, session: URLSession) async throws -> String {
        let url = file.url
        let name = SimpleIndex.redacted(url.absoluteString)
        func fail(_ reason: String) -> ArtifactsError { .malformedIndexData(url: name, reason: reason) }

        var head = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 120)
        head.httpMethod = "HEAD"
        let (_, response) = try await SimpleIndex.get(head, session: session)
        guard response.value(forHTTPHeaderField: "Accept-Ranges")?.lowercased().contains("bytes") == true,
              let length = response.value(forHTTPHeaderField: "Content-Length").flatMap(Int64.init), length > 0
        else {
            throw fail(
                "the index serves no metadata file for it (PEP 658) and its server does not answer range requests "
                    + "(no Accept-Ranges: bytes and Content-Length); refresh reads metadata only and downloads no wheel")
        }
        func range(_ offset: Int64, _ count: Int64) async throws -> [UInt8] {
            guard offset >= 0, count > 0, offset + count <= length else { throw fail("its zip structures point past its \(length) bytes") }
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 120)
            request.setValue("bytes=\(offset)-\(offset + count - 1)", forHTTPHeaderField: "Range")
            let (data, _) = try await SimpleIndex.get(request, session: session, status: 206)
            guard data.count == count else { throw fail("a range request for \(count) bytes answered \(data.count)") }
            return [UInt8](data)
        }

        do {
            let tailOffset = length - min(length, Int64(ZipDirectory.tailLength))
            let tail = try await range(tailOffset, length - tailOffset)
            let extent: ZipDirectory.Extent
            switch try ZipDirectory.end(inTail: tail) {
            case .extent(let found): extent = found
            case .zip64(let recordOffset): extent = try ZipDirectory.zip64Extent(record: try await range(recordOffset, 56))
            }
            guard extent.size <= largest else { throw fail("a central directory of \(extent.size) bytes") }
            let directory = extent.offset >= tailOffset && extent.offset + extent.size <= length
                ? Array(tail[Int(extent.offset - tailOffset)..<Int(extent.offset - tailOffset + extent.size)])
                : try await range(extent.offset, extent.size)
            let candidates = try ZipDirectory.members(inDirectory: directory, count: extent.count).filter {
                let parts = $0.name.split(separator: "/", omittingEmptySubsequences: false)
                return parts.count == 2 && parts[0].hasSuffix(".dist-info") && parts[1] == "METADATA"
            }
            guard candidates.count == 1, let member = candidates.first else {
                throw fail("a wheel must hold one NAME-VERSION.dist-info/METADATA; it holds \(candidates.count)")
            }
            guard member.size <= largest, member.compressedSize <= largest else { throw fail("\(member.name) is \(member.size) bytes") }
            let headerLength = try ZipDirectory.localHeaderLength(try await range(member.localHeaderOffset, 30))
            let raw = member.compressedSize == 0 ? [] : try await range(member.localHeaderOffset + headerLength, member.compressedSize)
            switch member.method {
            case 0:
                guard Int64(raw.count) == member.size else { throw fail("\(member.name) is stored in \(raw.count) bytes, not \(member.size)") }
                return String(decoding: raw, as: UTF8.self)
            case 8:
                return String(decoding: try inflate(raw, member: member, origin: "\(file.fileName): \(member.name)"), as: UTF8.self)
            default:
                throw fail("\(member.name) uses zip compression method \(member.method) (stored or deflate expected)")
            }
        } catch let error as ZipDirectory.FormatError {
            throw fail("not a readable wheel: \(error.reason)")
        }
    }

    /// Inflates a member's deflate stream, checked against the size and CRC-32 its directory entry declares.
    static func inflate(_ raw: [UInt8], member: ZipDirectory.Member, origin: String) throws -> [UInt8] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("imagegen-metadata-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        guard FileManager.default.createFile(atPath: scratch, contents: Data(raw)) else {
            throw ArtifactsError.malformedIndexData(url: origin, reason: "cannot write a scratch file in \(FileManager.default.temporaryDirectory.path)")
        }
        do {
            return try DeflatedSource(path: scratch, offset: 0, compressedSize: Int64(raw.count), crc32: member.crc32, origin: origin)
                .inflatedBytes(size: member.size)
        } catch {
            throw ArtifactsError.malformedIndexData(url: origin, reason: "its deflate stream does not inflate as declared: \(error)")
        }
    }
}
