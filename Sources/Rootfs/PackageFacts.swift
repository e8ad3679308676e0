import Foundation
import SystemSupport

/// What a package says about itself that a bill of materials reports and the lock does not
/// hold: a deb's source package and the licenses its machine-readable copyright file declares,
/// a wheel's declared license. Read from the artifact itself, without unpacking it.
public struct PackageFacts: Codable, Hashable, Sendable {
    /// A license as the package declares it, before any translation to SPDX.
    public enum DeclaredLicense: Codable, Hashable, Sendable {
        /// The `License:` short names of a Debian machine-readable copyright file (DEP-5): the
        /// header's, then each `Files:` paragraph's, each once, in the order they appear. A name
        /// may itself be an expression (`GPL-2+ or Artistic`).
        case debian([String])
        /// A wheel's `License-Expression` (core metadata 2.4, PEP 639): SPDX syntax.
        case expression(String)
        /// A wheel's free-text `License` field.
        case text(String)
    }

    /// Version of this record's layout; a cached record of another version is read anew.
    public static let formatVersion = 2

    /// The layout version the record was made with.
    public var format: Int = Self.formatVersion
    /// A deb's source package (`Source:`, else the package itself); nil for a wheel.
    public var sourcePackage: String?
    /// The source package's version when `Source:` names one (`glibc (2.36-9)`), else the
    /// package's own.
    public var sourceVersion: String?
    /// The declared license; nil when the package declares none in a form a machine can read
    /// (a copyright file without `Format:`, a doc folder that is a symlink to another package's).
    public var license: DeclaredLicense?

    /// A record.
    public init(sourcePackage: String? = nil, sourceVersion: String? = nil, license: DeclaredLicense? = nil) {
        self.sourcePackage = sourcePackage
        self.sourceVersion = sourceVersion
        self.license = license
    }

    /// The facts of the `.deb` at `path`: `control`'s `Source:` and the licenses of
    /// `usr/share/doc/PACKAGE/copyright` (the data archive is read up to that file only).
    /// ``DebUnpacker/unpackReadingFacts(_:)`` gives the same while it unpacks.
    public init(deb path: String) throws {
        let archive = try DebArchive(path: path)
        let control = try DebControlMembers(archive).package
        let wanted = Self.copyrightPath(of: control)
        var copyright: [UInt8]?
        let stream = try archive.open(archive.data)
        while let header = try stream.next() {
            guard TreePath.components(of: header.name).joined(separator: "/") == wanted else { continue }
            // A copyright file larger than any real one is not read: no declared license.
            if header.kind == .regular { copyright = try? stream.readAll(limit: Self.copyrightLimit) }
            break
        }
        self.init(control: control, copyright: copyright)
    }

    /// The facts of a package from its control record and the bytes of its own copyright file
    /// (nil when it has none, as a regular file, of at most ``copyrightLimit`` bytes).
    init(control: DebPackage, copyright: [UInt8]?) {
        let source = Self.sourceField(DebianFields(control.control)["Source"], package: control.name, version: control.version)
        self.init(sourcePackage: source.name, sourceVersion: source.version, license: copyright.flatMap(Self.debianLicenses).map(DeclaredLicense.debian))
    }

    /// Where a package's own copyright file is, as its data archive names it (normalised).
    static func copyrightPath(of control: DebPackage) -> String { "usr/share/doc/\(control.name)/copyright" }

    /// The largest copyright file read.
    static let copyrightLimit = 4 << 20

    /// The facts of the wheel at `path` (`wheel`: its file name, for messages): the
    /// `License-Expression` of its `METADATA`, else its `License` field.
    public init(wheel path: String, name wheel: String) throws {
        let archive = try WheelArchive(path: path, wheel: wheel)
        while let member = try archive.next() {
            let parts = member.name.split(separator: "/")
            guard parts.count == 2, parts[0].hasSuffix(".dist-info"), parts[1] == "METADATA", member.kind == .file else { continue }
            guard let bytes = try archive.readAll(limit: WheelInstaller.metadataLimit) else {
                throw RootfsError.invalidWheel(wheel: wheel, reason: "\(member.name) is larger than \(WheelInstaller.metadataLimit >> 20) MiB")
            }
            let fields = MetadataFields(bytes)
            if let expression = fields["License-Expression"], !expression.isEmpty {
                license = .expression(expression)
            } else if let text = fields["License"], !text.isEmpty, text.uppercased() != "UNKNOWN" {
                license = .text(text)
            }
            return
        }
        throw RootfsError.invalidWheel(wheel: wheel, reason: "no .dist-info/METADATA")
    }

    /// `Source: glibc (2.36-9)` → (`glibc`, `2.36-9`); no field → the package itself.
    static func sourceField(_ value: String?, package: String, version: String) -> (name: String, version: String) {
        guard let value, let name = value.split(separator: " ").first else { return (package, version) }
        if let open = value.firstIndex(of: "("), let close = value.lastIndex(of: ")"), open < close {
            let inner = value[value.index(after: open)..<close].trimmingCharacters(in: .whitespacesAndNewlines)
            return (String(name), inner.isEmpty ? version : inner)
        }
        return (String(name), version)
    }

    /// The license names a DEP-5 copyright file declares, or nil when the file is not
    /// machine-readable (no `Format:` naming the copyright format in its first paragraph).
    static func debianLicenses(copyright bytes: [UInt8]) -> [String]? {
        let paragraphs = DebianFields.paragraphs(String(decoding: bytes, as: UTF8.self))
        guard let header = paragraphs.first, let format = header["Format"], format.contains("copyright-format") else { return nil }
        var names: [String] = []
        for (index, paragraph) in paragraphs.enumerated() where index == 0 || paragraph["Files"] != nil {
            // The first line of `License:` is the short name; the rest is the license's text.
            guard let value = paragraph["License"], let line = value.split(whereSeparator: \.isNewline).first else { continue }
            let name = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty, !names.contains(name) { names.append(name) }
        }
        return names.isEmpty ? nil : names
    }
}

/// The fields of one deb822 paragraph (`control`, a copyright file's paragraphs): names
/// compared without case, continuation lines joined with `\n`, a lone `.` an empty line.
struct DebianFields {
    private var values: [String: String] = [:]

    init(_ text: String) {
        var last: String?
        // `\r\n` is one Character: splitting where a newline is handles every line ending.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.first == " " || line.first == "\t" {
                guard let key = last else { continue }
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                values[key, default: ""] += "\n" + (trimmed == "." ? "" : trimmed)
                continue
            }
            guard let colon = line.firstIndex(of: ":"), line.first != "#" else { continue }
            let key = line[..<colon].lowercased()
            values[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            last = key
        }
    }

    /// The value of `name`.
    subscript(_ name: String) -> String? { values[name.lowercased()] }

    /// The paragraphs of a deb822 file, split at blank lines.
    static func paragraphs(_ text: String) -> [DebianFields] {
        var paragraphs: [DebianFields] = []
        var current: [Substring] = []
        let lines: [Substring] = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) + [""]
        for line in lines {
            if line.allSatisfy(\.isWhitespace) {
                if !current.isEmpty { paragraphs.append(DebianFields(current.joined(separator: "\n"))) }
                current = []
            } else {
                current.append(line)
            }
        }
        return paragraphs
    }
}
