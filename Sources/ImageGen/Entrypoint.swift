/// The files of the config layer that imagegen writes itself.
enum GeneratedFiles {
    /// `/usr/local/bin/imagegen-entrypoint`: makes SSH host keys when missing (never baked
    /// into a layer), refreshes the linker cache, then starts what was asked: `jupyter`
    /// (Jupyter Lab on 8888), `sshd` (in the foreground, with the container's environment in
    /// `/etc/environment` so that SSH sessions get it through pam_env), a given command, or a shell.
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
                # An SSH session does not inherit the container's environment (PATH with the
                # venv, CUDA_VERSION, NVIDIA_*, what `docker run -e` set): PAM's pam_env gives
                # every session /etc/environment, so the entrypoint writes it there.
                if [ "$(id -u)" = 0 ]; then
                    env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=' | grep -Ev '^(HOME|HOSTNAME|PWD|OLDPWD|SHLVL|TERM|_)=' \
                        > /etc/environment.imagegen-new && mv /etc/environment.imagegen-new /etc/environment
                fi
                exec /usr/sbin/sshd -D -e ;;
        esac
        exec "$@"

        """
}
