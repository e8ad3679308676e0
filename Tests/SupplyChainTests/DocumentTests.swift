import Foundation
import OCI
@testable import Rootfs
import SupplyChain
import Testing

/// Package URLs, license translation and Debian copyright files: the parts of a bill of
/// materials a scanner matches on, each with the cases real packages have.
@Suite("SBOM parts: package URLs, licenses, DEP-5 copyright files")
struct DocumentTests {
    static func package(_ name: String, kind: Inventory.Package.Kind = .deb) -> Inventory.Package {
        Inventory.Package(
            kind: kind, name: name, version: "1.0", architecture: kind == .deb ? "amd64" : nil, fileName: "\(name).deb",
            sha256: Digest.of(Array(name.utf8)), size: 1, component: "base", facts: nil)
    }

    @Test("purls in the canonical form packageurl-python writes: + encoded, : and ~ kept, PEP 503 names, sorted qualifiers")
    func purls() {
        #expect(PackageURL(type: "deb", namespace: "debian", name: "libstdc++6", version: "12.2.0-14+deb12u1", qualifiers: ["distro": "debian-12", "arch": "amd64"]).description
            == "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64&distro=debian-12")
        #expect(PackageURL(type: "deb", namespace: "debian", name: "zlib1g", version: "1:1.2.13.dfsg-1~bpo1").description == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1~bpo1")
        #expect(PackageURL(type: "pypi", name: PackageURL.pypiName("Zope.Interface_Ext"), version: "2.7.1+cu126").description == "pkg:pypi/zope.interface-ext@2.7.1%2Bcu126")
        #expect(PackageURL(type: "oci", name: "v2.7", version: "sha256:ab", qualifiers: ["arch": "arm64", "os": "", "x": "a b"]).description
            == "pkg:oci/v2.7@sha256:ab?arch=arm64&x=a%20b")
    }

    @Test("Debian short names: plain ones mapped to SPDX, 'or' kept, 'and' flattened, exceptions and unknown names as defined LicenseRefs")
    func debianLicenses() {
        let deb = Self.package("perl")
        let license = SPDXLicense(declared: .debian(["GPL-1+ or Artistic", "Expat", "BSD-2-clause and MIT-CMU", "GPL-3+ with Bison exception", "Expat"]), package: deb)
        #expect(license.expression == "(GPL-1.0-or-later OR LicenseRef-Debian-Artistic) AND MIT AND BSD-2-Clause AND MIT-CMU AND LicenseRef-Debian-GPL-3--with-Bison-exception")
        #expect(license.references.map(\.licenseId) == ["LicenseRef-Debian-Artistic", "LicenseRef-Debian-GPL-3--with-Bison-exception"])
        #expect(license.references.allSatisfy { $0.extractedText.contains("/usr/share/doc/PACKAGE/copyright") })
        // Mixed precedence is one reference: no meaning guessed.
        #expect(SPDXLicense(declared: .debian(["GPL-2+ or Artistic, and BSD-3-clause or MIT"]), package: deb).expression.hasPrefix("LicenseRef-Debian-"))
        #expect(SPDXLicense(declared: nil, package: deb).expression == "NOASSERTION")
    }

    @Test("wheel licenses: a PEP 639 expression kept (identifiers respelled), unknown identifiers and free text as LicenseRef with the text")
    func wheelLicenses() {
        let wheel = Self.package("Some_Pkg", kind: .wheel)
        #expect(SPDXLicense(declared: .expression("apache-2.0 OR (mit AND bsd-3-clause)"), package: wheel).expression == "Apache-2.0 OR (MIT AND BSD-3-Clause)")
        #expect(SPDXLicense(declared: .expression("GPL-2.0-or-later WITH Classpath-exception-2.0"), package: wheel).expression
            == "GPL-2.0-or-later WITH Classpath-exception-2.0")
        // Malformed expressions never reach the document: each becomes a reference holding the text.
        for malformed in ["MIT AND (", "MIT OR OR BSD-3-Clause", "   ", "MIT WITH Apache-2.0", "Classpath-exception-2.0", "(MIT", "MIT)", "MIT BSD-3-Clause"] {
            let license = SPDXLicense(declared: .expression(malformed), package: wheel)
            #expect(license.expression == "LicenseRef-PyPI-some-pkg", "\(malformed)")
            #expect(license.references.first?.extractedText == "License-Expression: \(malformed)")
        }
        let unknown = SPDXLicense(declared: .expression("Frobnicate-9"), package: wheel)
        #expect(unknown.expression == "LicenseRef-PyPI-some-pkg")
        #expect(unknown.references.first?.extractedText == "License-Expression: Frobnicate-9")
        #expect(SPDXLicense(declared: .text("MIT License"), package: wheel).expression == "MIT")
        let text = SPDXLicense(declared: .text("Copyright (c) 2024\nAll rights reserved."), package: wheel)
        #expect(text.expression == "LicenseRef-PyPI-some-pkg")
        #expect(text.text == "Copyright (c) 2024\nAll rights reserved.")
    }

    @Test("DEP-5: the header's and each Files paragraph's License once, standalone license texts not counted; a file without Format is not machine-readable")
    func copyrightFiles() {
        let dep5 = """
            Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
            Upstream-Name: zlib

            Files: *
            Copyright: 1995-2013 Jean-loup Gailly
            License: Zlib

            Files: contrib/*
            Copyright: someone
            License: GPL-2+ or Artistic
             A note about it.

            Files: debian/*
            License: Zlib

            License: Artistic
             The text of the license,
             .
             in paragraphs.
            """
        #expect(PackageFacts.debianLicenses(copyright: Array(dep5.utf8)) == ["Zlib", "GPL-2+ or Artistic"])
        #expect(PackageFacts.debianLicenses(copyright: Array("This is the Debian prepackaged version of foo.\n\nLicense: GPL\n".utf8)) == nil)
        // Line ends of another system change nothing.
        #expect(PackageFacts.debianLicenses(copyright: Array(dep5.replacingOccurrences(of: "\n", with: "\r\n").utf8)) == ["Zlib", "GPL-2+ or Artistic"])
        #expect(PackageFacts.sourceField("glibc (2.36-9+deb12u4)", package: "libc6", version: "2.36-9+deb12u7") == ("glibc", "2.36-9+deb12u4"))
        #expect(PackageFacts.sourceField("zlib", package: "zlib1g", version: "1:1.2.13") == ("zlib", "1:1.2.13"))
        #expect(PackageFacts.sourceField(nil, package: "adduser", version: "3.134") == ("adduser", "3.134"))
    }
}
