# Sourced by the benchmarks: a docker-registry on 127.0.0.1 with empty storage under
# "$work/registry" (filesystem driver, no TLS, no log).
#   start_registry   (re)starts it; sets $port
#   stop_registry    stops it
# The caller sets $work and names itself in $bench (for messages).

registry_pid=""
stop_registry() {
    if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
    registry_pid=""
}

start_registry() {
    stop_registry
    rm -rf "$work/registry"; mkdir -p "$work/registry"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > "$work/registry/config.yml" <<CONFIG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry/storage}}
http: {addr: 127.0.0.1:$port, secret: benchmark}
CONFIG
    docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 100); do (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
    echo "$bench: docker-registry did not start: $(cat "$work/registry/log")" >&2; exit 1
}
