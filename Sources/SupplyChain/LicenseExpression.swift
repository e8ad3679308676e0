import Foundation
import Rootfs

/// A license defined in the document itself (SPDX `hasExtractedLicensingInfos`): what a
/// `LicenseRef-` in an expression stands for.
public struct ExtractedLicense: Codable, Hashable, Sendable {
    /// `LicenseRef-…`.
    public var licenseId: String
    /// A short name.
    public var name: String
    /// The text, or where to find it.
    public var extractedText: String
}

/// A declared license in SPDX terms: an expression over SPDX identifiers and the
/// `LicenseRef-`s it defines, or `NOASSERTION`.
public struct SPDXLicense: Hashable, Sendable {
    /// The expression; `NOASSERTION` when the package declares nothing a machine can read.
    public var expression: String
    /// The `LicenseRef-`s the expression uses.
    public var references: [ExtractedLicense]
    /// A wheel's free-text license, kept whole (CycloneDX carries it as a named license).
    public var text: String?

    /// Nothing declared.
    public static let noAssertion = SPDXLicense(expression: "NOASSERTION", references: [], text: nil)

    /// The SPDX form of what `package` declares: Debian short names and free-text wheel
    /// licenses are mapped to SPDX identifiers where the meaning is plain (`GPL-2+` →
    /// `GPL-2.0-or-later`, `Expat` → `MIT`); anything else becomes a `LicenseRef-` that says
    /// where the license's text is, so the document never claims an identifier it cannot back.
    public init(declared: PackageFacts.DeclaredLicense?, package: Inventory.Package) {
        switch declared {
        case nil:
            self = .noAssertion
        case .expression(let expression):
            self = Self.pep639(expression, package: package)
        case .text(let text):
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
            if !text.contains(where: \.isNewline), let id = Self.identifier(for: line) ?? Self.wheelNames[line.lowercased()] {
                self.init(expression: id, references: [], text: nil)
            } else {
                self = Self.pypiReference(package, text: text)
            }
        case .debian(let names):
            var terms: [String] = []
            var references: [ExtractedLicense] = []
            for name in names {
                let (expression, used) = Self.debianName(name, package: package.name)
                // `A and B` adds A and B to the package's conjunction, each once.
                for term in expression.contains(" OR ") ? [expression] : expression.components(separatedBy: " AND ") where !terms.contains(term) {
                    terms.append(term)
                }
                for reference in used where !references.contains(reference) { references.append(reference) }
            }
            let joined = terms.count == 1 ? terms[0] : terms.map { $0.contains(" OR ") ? "(\($0))" : $0 }.joined(separator: " AND ")
            self.init(expression: joined, references: references, text: nil)
        }
    }

    private init(expression: String, references: [ExtractedLicense], text: String?) {
        self.expression = expression
        self.references = references
        self.text = text
    }

    /// One DEP-5 `License:` short name (`GPL-2+ or Artistic`, `BSD-3-clause`) as an SPDX expression.
    static func debianName(_ name: String, package: String) -> (String, [ExtractedLicense]) {
        func reference(_ term: String) -> (String, [ExtractedLicense]) {
            let id = "LicenseRef-Debian-\(idString(term))"
            let text = "The license Debian's machine-readable copyright files name '\(term)'; "
                + "its text is in /usr/share/doc/PACKAGE/copyright of the packages that use it."
            return (id, [ExtractedLicense(licenseId: id, name: term, extractedText: text)])
        }
        let words = name.replacingOccurrences(of: ",", with: " ").split(whereSeparator: \.isWhitespace).map(String.init)
        let operators = Set(words.map { $0.lowercased() }.filter { $0 == "or" || $0 == "and" })
        // One operator kind, single-word terms: each term on its own. Anything else (mixed
        // precedence, `with … exception`) is one reference, so no meaning is guessed.
        guard operators.count <= 1 else { return reference(name) }
        var terms: [[String]] = [[]]
        for word in words {
            if operators.contains(word.lowercased()) { terms.append([]) } else { terms[terms.count - 1].append(word) }
        }
        var parts: [String] = []
        var references: [ExtractedLicense] = []
        for term in terms where !term.isEmpty {
            if term.count == 1, let id = identifier(for: term[0]) {
                parts.append(id)
            } else {
                let (id, used) = reference(term.joined(separator: " "))
                parts.append(id)
                references += used
            }
        }
        guard !parts.isEmpty else { return reference(name) }
        return (parts.joined(separator: operators.first == "or" ? " OR " : " AND "), references)
    }

    /// A PEP 639 `License-Expression`, kept when it is a well-formed expression whose every
    /// identifier this table knows (respelled as SPDX spells it), else one reference holding
    /// the expression as text: the document never carries an expression a validator refuses.
    static func pep639(_ expression: String, package: Inventory.Package) -> SPDXLicense {
        let tokens = expression.replacingOccurrences(of: "(", with: " ( ").replacingOccurrences(of: ")", with: " ) ")
            .split(whereSeparator: \.isWhitespace).map(String.init)
        // license-expression := term ((AND | OR) term)*; term := id [WITH exception] | "(" expression ")"
        var out: [String] = []
        var depth = 0
        var expectOperand = true
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            let upper = token.uppercased()
            if expectOperand {
                if token == "(" {
                    depth += 1
                    out.append(token)
                } else if let id = identifier(for: token) {
                    out.append(id)
                    expectOperand = false
                    if index + 1 < tokens.count, tokens[index + 1].uppercased() == "WITH" {
                        guard index + 2 < tokens.count, let exception = exceptions[tokens[index + 2].lowercased()] else {
                            return pypiReference(package, text: "License-Expression: \(expression)")
                        }
                        out += ["WITH", exception]
                        index += 2
                    }
                } else {
                    return pypiReference(package, text: "License-Expression: \(expression)")
                }
            } else if upper == "AND" || upper == "OR" {
                out.append(upper)
                expectOperand = true
            } else if token == ")", depth > 0 {
                depth -= 1
                out.append(token)
            } else {
                return pypiReference(package, text: "License-Expression: \(expression)")
            }
            index += 1
        }
        guard !out.isEmpty, !expectOperand, depth == 0 else { return pypiReference(package, text: "License-Expression: \(expression)") }
        let joined = out.joined(separator: " ").replacingOccurrences(of: "( ", with: "(").replacingOccurrences(of: " )", with: ")")
        return SPDXLicense(expression: joined, references: [], text: nil)
    }

    /// A wheel's license as `LicenseRef-PyPI-NAME`, defined by `text`.
    static func pypiReference(_ package: Inventory.Package, text: String) -> SPDXLicense {
        let reference = ExtractedLicense(
            licenseId: "LicenseRef-PyPI-\(idString(PackageURL.pypiName(package.name)))", name: "\(package.name) license", extractedText: text)
        return SPDXLicense(expression: reference.licenseId, references: [reference], text: text)
    }

    /// The SPDX identifier for a Debian short name or an SPDX identifier in any case.
    static func identifier(for name: String) -> String? {
        debianNames[name] ?? spdxIdentifiers[name.lowercased()]
    }

    /// `[A-Za-z0-9.-]` only, as SPDX wants after `LicenseRef-`.
    static func idString(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "-" })
    }

    /// Debian's short names (copyright-format 1.0's list and common use) whose SPDX meaning is plain.
    static let debianNames: [String: String] = [
        "Apache-2": "Apache-2.0", "Artistic-2": "Artistic-2.0", "BSD-2-clause": "BSD-2-Clause", "BSD-3-clause": "BSD-3-Clause",
        "BSD-4-clause": "BSD-4-Clause", "CC0": "CC0-1.0", "Expat": "MIT", "GPL-1+": "GPL-1.0-or-later", "GPL-1": "GPL-1.0-only",
        "GPL-2": "GPL-2.0-only", "GPL-2+": "GPL-2.0-or-later", "GPL-2.0+": "GPL-2.0-or-later", "GPL-3": "GPL-3.0-only",
        "GPL-3+": "GPL-3.0-or-later", "GPL-3.0+": "GPL-3.0-or-later", "LGPL-2": "LGPL-2.0-only", "LGPL-2+": "LGPL-2.0-or-later",
        "LGPL-2.1": "LGPL-2.1-only", "LGPL-2.1+": "LGPL-2.1-or-later", "LGPL-3": "LGPL-3.0-only", "LGPL-3+": "LGPL-3.0-or-later",
        "AGPL-3": "AGPL-3.0-only", "AGPL-3+": "AGPL-3.0-or-later", "GFDL-1.2+": "GFDL-1.2-or-later", "GFDL-1.3+": "GFDL-1.3-or-later",
        "GFDL-1.2": "GFDL-1.2-only", "GFDL-1.3": "GFDL-1.3-only", "MPL-2": "MPL-2.0", "PSF-2": "PSF-2.0", "zlib": "Zlib",
    ]

    /// Free-text wheel `License` values whose meaning is plain.
    static let wheelNames: [String: String] = [
        "mit license": "MIT", "the mit license": "MIT", "apache 2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
        "apache license, version 2.0": "Apache-2.0", "apache software license 2.0": "Apache-2.0", "bsd 3-clause": "BSD-3-Clause",
        "3-clause bsd license": "BSD-3-Clause", "new bsd license": "BSD-3-Clause", "bsd-3": "BSD-3-Clause", "mpl 2.0": "MPL-2.0",
        "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "psf license": "PSF-2.0", "python software foundation license": "PSF-2.0",
    ]

    /// SPDX license identifiers this table knows, by lower case.
    static let spdxIdentifiers: [String: String] = Dictionary(
        [
            "0BSD", "AFL-2.1", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "APSL-2.0", "Artistic-1.0",
            "Artistic-1.0-Perl", "Artistic-2.0", "Beerware", "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear",
            "BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0",
            "CDDL-1.0", "CDDL-1.1", "curl", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2", "FSFAP", "FSFUL", "FSFULLR", "FTL",
            "GFDL-1.2-only", "GFDL-1.2-or-later", "GFDL-1.3-only", "GFDL-1.3-or-later", "GPL-1.0-only", "GPL-1.0-or-later",
            "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "HPND", "ICU", "IJG", "ISC", "LGPL-2.0-only",
            "LGPL-2.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "Libpng",
            "libpng-2.0", "libtiff", "MIT", "MIT-0", "MIT-CMU", "MPL-1.1", "MPL-2.0", "NCSA", "OFL-1.1", "OpenSSL", "PostgreSQL",
            "PSF-2.0", "Python-2.0", "Python-2.0.1", "Ruby", "SGI-B-2.0", "Sleepycat", "TCL", "Unicode-3.0", "Unicode-DFS-2016",
            "Unlicense", "UPL-1.0", "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
        ].map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })

    /// SPDX exception identifiers (after `WITH`), by lower case.
    static let exceptions: [String: String] = Dictionary(
        ["Classpath-exception-2.0", "GCC-exception-3.1", "LLVM-exception", "OpenSSL-exception", "Autoconf-exception-3.0", "Bison-exception-2.2"]
            .map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
}
