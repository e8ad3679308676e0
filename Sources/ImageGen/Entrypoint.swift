/// The files of the config layer that imagegen writes itself.
enum GeneratedFiles {
    /// `/usr/local/bin/imagegen-entrypoint`: makes SSH host keys when missing (never baked
    /// into a layer), refreshes the linker cache, then starts what was asked: `jupyter`
    /// (Jupyter Lab on 8888), `sshd` (in the foreground), a given command, or a shell.
    static let entrypoint = """
        #!/bin/sh
        # imagegen entrypoint: prepare the container, then run what was asked.
        set -e
        if [ -x /usr/bin/ssh-keygen ] && ! ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1; then
            ssh-keygen -A >/dev/null 2>&1 || echo "imagegen-entrypoint: could not make SSH host keys" >&2
        fi
        if [ "$(id -u)" = 0 ] && { [ ! -e /etc/ld.so.cache ] || [ /etc/ld.so.conf.d -nt /etc/ld.so.cache ]; }; then
            ldconfig 2>/dev/null || true
        fi
        case "${1:-}" in
            "")
                exec /bin/bash ;;
            jupyter)
                if [ "$#" -eq 1 ]; then
                    exec jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root
                fi ;;
            sshd)
                mkdir -p /run/sshd
                exec /usr/sbin/sshd -D -e ;;
        esac
        exec "$@"

        """

    /// `/etc/passwd`, `/etc/group` and `/etc/shadow` lines for the image: base-passwd's
    /// masters, then the service users of the packages, then the optional non-root user.
    static func accounts(
        passwdMaster: String, groupMaster: String, sshd: Bool, user: (name: String, uid: Int, gid: Int)?
    ) -> (passwd: String, group: String, shadow: String) {
        var passwd = passwdMaster.split(separator: "\n").map(String.init)
        var group = groupMaster.split(separator: "\n").map(String.init)
        if sshd, !passwd.contains(where: { $0.hasPrefix("sshd:") }) {
            passwd.append("sshd:x:101:65534::/run/sshd:/usr/sbin/nologin")
        }
        if let user {
            if !group.contains(where: { $0.hasPrefix("\(user.name):") }) { group.append("\(user.name):x:\(user.gid):") }
            passwd.append("\(user.name):x:\(user.uid):\(user.gid)::/home/\(user.name):/bin/bash")
        }
        let shadow = passwd.compactMap { line in line.split(separator: ":").first.map { "\($0):*:19000:0:99999:7:::" } }
        return (passwd.joined(separator: "\n") + "\n", group.joined(separator: "\n") + "\n", shadow.joined(separator: "\n") + "\n")
    }
}
