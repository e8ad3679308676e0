import Foundation
@testable import Rootfs
import TestSupport
import Testing

/// The maintainer-script effects, each checked against what Debian's own tools made on this
/// host (its `/etc/pam.d`, its alternatives database, its OpenSSL) — independent outputs of the
/// same inputs.
@Suite("Maintainer-script effects, derived without running a script")
struct MaintainerEffectsTests {
    // MARK: The script reader

    @Test("update-alternatives calls: continuations, a commented slave, quotes, variables")
    func alternativesFromScripts() {
        let script = MaintainerScript(
            """
            #!/bin/sh
            set -e
            if [ "$1" = "configure" ]; then
                    update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \\
                        --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz \\
                        --slave "/usr/bin/nawk" nawk '/usr/bin/mawk'
            fi
            update-alternatives --quiet \\
                --install /usr/bin/c++ c++ /usr/bin/g++ 20 \\
                #--slave /usr/share/man/man1/c++.1.gz c++.1.gz /usr/share/man/man1/g++.1.gz

            update-alternatives --install "$BINPATH"/"$BINNAME" "$BINNAME" "$BINPATH"/"$BINNAME".procps 50
            update-alternatives --remove rename /usr/bin/prename
            """)
        let installs = script.alternativeInstalls
        #expect(installs.map(\.name) == ["awk", "c++"])
        #expect(installs.first?.slaves.map(\.name) == ["awk.1.gz", "nawk"])
        #expect(installs.first?.slaves.last?.path == "/usr/bin/mawk")
        #expect(installs.last?.priority == 20 && installs.last?.slaves.isEmpty == true)
    }

    @Test("$DPKG_ROOT is empty; here-documents and default copies are read from the text")
    func literalFiles() {
        let script = MaintainerScript(
            """
            install_from_default "$DPKG_ROOT/usr/share/libc-bin/nsswitch.conf" "${DPKG_ROOT}/etc/nsswitch.conf"
            install_from_default "$OTHER/x" /etc/x
            new_config_file() {
                cat > /etc/python3/debian_config <<-EOF
            \t[DEFAULT]
            \tbyte-compile = standard
            \tEOF
            }
            cat > /etc/expanded <<EOF
            $HOME
            EOF
            ucf --three-way --debconf-ok "$new_config" /etc/ssh/sshd_config
            ucfr openssh-server /etc/ssh/sshd_config
            """)
        #expect(script.defaultCopies.map(\.destination) == ["/etc/nsswitch.conf"])
        #expect(script.hereDocuments.map(\.path) == ["/etc/python3/debian_config"])
        #expect(script.hereDocuments.first?.text == "[DEFAULT]\nbyte-compile = standard\n")
        #expect(script.ucfRegistrations.map(\.path) == ["/etc/ssh/sshd_config"])
        #expect(script.ucfRegistrations.first?.threeWay == true)
    }

    // MARK: Against this host's own results

    /// The records update-alternatives wrote on this host for groups that one package registers
    /// with literal words, against ours from that package's `postinst`.
    @Test("alternatives records equal update-alternatives' own on this host", arguments: [("mawk", "awk"), ("debianutils", "which")])
    func alternativesRecord(package: String, name: String) throws {
        let postinst = "/var/lib/dpkg/info/\(package).postinst"
        let record = "/var/lib/dpkg/alternatives/\(name)"
        guard FileManager.default.fileExists(atPath: postinst), let expected = try? String(contentsOfFile: record, encoding: .utf8) else {
            Issue.record("this host lacks \(postinst) or \(record)")
            return
        }
        // Only this host's record is compared: skip it if another package registered a choice too.
        guard expected.components(separatedBy: "\n\n")[1].split(separator: "\n").count <= 2 + 8 else { return }
        var alternatives = Alternatives()
        for install in MaintainerScript(try String(contentsOfFile: postinst, encoding: .utf8)).alternativeInstalls {
            alternatives.register(install) { FileManager.default.fileExists(atPath: $0) || true }
        }
        #expect(alternatives.groups[name]?.record == expected)
    }

    @Test("pam-auth-update: this host's profiles and templates give this host's /etc/pam.d/common-* files")
    func pamAgainstHost() throws {
        var profiles: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "/usr/share/pam-configs") {
            profiles[name] = Array(try Data(contentsOf: URL(fileURLWithPath: "/usr/share/pam-configs/\(name)")))
        }
        let update = PamAuthUpdate(profiles: profiles)
        for type in ["auth", "account", "password", "session", "session-noninteractive"] {
            let template = try String(contentsOfFile: "/usr/share/pam/common-\(type)", encoding: .utf8)
            let host = try String(contentsOfFile: "/etc/pam.d/common-\(type)", encoding: .utf8)
            #expect(update.commonFile(type: type, template: template) == host, "common-\(type)")
            if let saved = try? String(contentsOfFile: "/var/lib/pam/\(type)", encoding: .utf8) {
                #expect(update.savedState(type: type) == saved, "/var/lib/pam/\(type)")
            }
        }
        if let seen = try? String(contentsOfFile: "/var/lib/pam/seen", encoding: .utf8) {
            #expect(Set(update.seen.split(separator: "\n")) == Set(seen.split(separator: "\n")))
        }
    }

    @Test("pam-auth-update: no primary module keeps the stack with pam_permit; a template without markers is refused")
    func pamEdges() {
        let update = PamAuthUpdate(profiles: [
            "mkhomedir": Array("Name: m\nDefault: yes\nPriority: 0\nSession-Type: Additional\nSession:\n\toptional\tpam_mkhomedir.so\n".utf8),
        ])
        let template = """
            # here are the per-package modules (the "Primary" block)
            # here's the fallback if no module succeeds
            session requisite pam_deny.so
            # and here are more per-package modules (the "Additional" block)
            # end of pam-auth-update config

            """
        #expect(update.commonFile(type: "session", template: template) == """
            # here are the per-package modules (the "Primary" block)
            session\t[default=1]\t\t\tpam_permit.so
            # here's the fallback if no module succeeds
            session requisite pam_deny.so
            # and here are more per-package modules (the "Additional" block)
            session\toptional\tpam_mkhomedir.so 
            # end of pam-auth-update config

            """)
        #expect(update.commonFile(type: "session", template: "no markers\n") == nil)
        #expect(update.savedState(type: "auth") == "Module: null\n[default=1]\t\t\tpam_permit.so\n")
    }

    @Test("CA hash links: libcrypto's subject hash equals `openssl x509 -subject_hash` for this host's certificates")
    func certificateHashes() throws {
        let directory = "/usr/share/ca-certificates/mozilla"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted().prefix(12)
        try #require(!names.isEmpty)
        for name in names {
            let path = "\(directory)/\(name)"
            let openssl = try run("openssl", ["x509", "-noout", "-subject_hash", "-in", path])
            let pem = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let ours = CertificateHash.subjectHash(pem: pem).map { CertificateHash.linkName($0, index: 0) }
            #expect(ours == openssl.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + ".0", "\(name)")
        }
        #expect(CertificateHash.subjectHash(pem: Array("not a certificate".utf8)) == nil)
        // Two certificates with one subject: .0 and .1, in name order; an identical copy is skipped.
        let pem = Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(names[0])")))
        let links = CertificateHash.links([("b.pem", pem), ("a.pem", pem), ("c.pem", Array("x".utf8))])
        #expect(links.count == 1 && links[0].target == "a.pem" && links[0].link.hasSuffix(".0"))
    }

    // MARK: A tree

    @Test("a layer: alternatives with a lower choice, shells, triggers, apt marks, default copies, arch")
    func layerEffects() throws {
        let scratch = try ScratchDirectory("imagegen-effects")
        let root = scratch("root")
        try FileManager.default.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/usr/share/debianutils/shells.d", withIntermediateDirectories: true)
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/bin/less"))
        try Data("# /etc/shells: valid login shells\n/bin/sh\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/share/debianutils/shells"))
        try Data("/bin/bash\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/share/debianutils/shells.d/bash"))
        func package(_ name: String, postinst: String?, files: [String], base: Bool = false, triggers: [String] = []) -> PackageScripts {
            PackageScripts(
                name: name, architecture: "amd64", isBaseSystem: base, postinst: postinst.map(MaintainerScript.init), triggers: triggers,
                files: Set(files), deb: "/nonexistent/\(name).deb")
        }
        let lower = [
            package(
                "util-linux", postinst: "update-alternatives --install /usr/bin/pager pager /bin/more 50", files: ["/bin/more"], base: true,
                triggers: ["interest-noawait /usr/share/x"]),
        ]
        let own = [
            package("less", postinst: "update-alternatives --install /usr/bin/pager pager /usr/bin/less 77", files: ["/usr/bin/less"]),
            package(
                "debianutils", postinst: nil,
                files: ["/usr/share/debianutils/shells", "/usr/share/debianutils/shells.d/bash"], base: true, triggers: ["interest ldconfig"]),
        ]
        try MaintainerEffects.apply(root: root, context: .init(own: own, lower: lower, architecture: "amd64", requested: []))
        func read(_ path: String) throws -> String { try String(contentsOfFile: root + "/" + path, encoding: .utf8) }
        #expect(try read("var/lib/dpkg/alternatives/pager") == "auto\n/usr/bin/pager\n\n/bin/more\n50\n/usr/bin/less\n77\n\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/alternatives/pager") == "/usr/bin/less")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/usr/bin/pager") == "/etc/alternatives/pager")
        #expect(try read("etc/shells") == "# /etc/shells: valid login shells\n/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n")
        #expect(try read("var/lib/shells.state") == "/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n")
        #expect(try read("var/lib/dpkg/arch") == "amd64\n")
        #expect(try read("var/lib/dpkg/triggers/File") == "/usr/share/x util-linux/noawait\n")
        #expect(try read("var/lib/dpkg/triggers/ldconfig") == "debianutils\n")
        // less is neither requested nor part of the base system: auto; the others are kept.
        #expect(try read("var/lib/apt/extended_states") == "Package: less\nArchitecture: amd64\nAuto-Installed: 1\n\n")
    }
}
