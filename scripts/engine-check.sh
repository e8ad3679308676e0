#!/usr/bin/env bash
# Checks a built image in a real Docker engine, as a user runs it:
#
#   sudo scripts/engine-check.sh out/v2.7.tar [Images/v2.7.lock.json]
#
# Starts its own dockerd (Debian's docker.io, as the test suite's engine tests do: vfs storage,
# no iptables, ip6tables or bridge, its own data root, exec root, pid file and socket under a
# scratch directory; stopped and removed at exit, whatever happened), loads the archive, starts
# one container through the image's entrypoint (`sshd`, host network, a free loopback port) and
# checks, printing one line each:
#
#   - the first `python -c "import torch"` in the fresh container against the second
#     (the bytecode goal: first ≤ 1.1 × second)
#   - SSH login with a key running `python -c "import torch; print(torch.__version__)"`
#   - `su -c id nobody -s /bin/sh`; `awk`, `which`, `pager`
#   - `docker images` shows the lock's `resolved` date (or SOURCE_DATE_EPOCH's, when set)
#   - NVIDIA_REQUIRE_CUDA has no `brand=` branches unless the image ships cuda-compat
#   - torch, CUDA, cuDNN and NCCL versions equal the image's labels
#   - `torch.compile` on the CPU; a DataLoader with 2 workers (the container has --shm-size)
#   - Jupyter Lab answers on a free port
#   - a devel image (one with NVCC): nvcc compiles a kernel to an object file
#
# Needs root, docker.io, openssh-client and python3 on the host (scripts/install-deps.sh); no
# internet. v2.7: about 3.5 min to load, 40 s to create the container (vfs copies the whole
# root), a minute or two of checks. Exit 0 when every check passes, 1 when one fails, 2 when
# the engine or the image could not be set up.
set -uo pipefail

archive=${1:?usage: engine-check.sh IMAGE_ARCHIVE [LOCK]}
[[ -f "$archive" ]] || { echo "engine-check: no such archive: $archive" >&2; exit 2; }
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=$(basename "$archive" .tar)
lock=${2:-$root_dir/Images/$name.lock.json}
[[ $(id -u) -eq 0 ]] || { echo "engine-check: dockerd needs root; run it with sudo" >&2; exit 2; }
for tool in /usr/sbin/dockerd /usr/bin/docker /usr/bin/ssh /usr/bin/ssh-keygen; do
  [[ -x $tool ]] || { echo "engine-check: $tool is missing: scripts/install-deps.sh installs it" >&2; exit 2; }
done

R=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-engine-check-XXXXXX")
D=(/usr/bin/docker -H "unix://$R/sock")   # not the first docker on PATH: that may be another
export DOCKER_CONFIG=$R/client DOCKER_CONTEXT=default
mkdir -p "$R/client"
echo '{}' >"$R/daemon.json"

cleanup() {
  if [[ -f $R/dockerd.pid ]]; then
    local ids
    ids=$("${D[@]}" ps -aq 2>/dev/null) && [[ -n $ids ]] && "${D[@]}" rm -f $ids >/dev/null 2>&1
    local pid
    pid=$(cat "$R/dockerd.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  # dockerd leaves the host network namespace bind-mounted under its exec root.
  awk -v root="$R/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$R"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
seconds() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$2"; }

failures=0
report() {  # report ok|FAIL NAME DETAIL
  printf '%-4s %-22s %s\n' "$1" "$2" "$3"
  [[ $1 == ok ]] || failures=$((failures + 1))
}

# The engine.
setsid /usr/sbin/dockerd --config-file "$R/daemon.json" --data-root "$R/data" --exec-root "$R/exec" \
  --pidfile "$R/dockerd.pid" -H "unix://$R/sock" --storage-driver vfs \
  --iptables=false --ip6tables=false --bridge=none --shutdown-timeout 5 >"$R/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 90); do
  "${D[@]}" version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
  sleep 1
done
"${D[@]}" version --format 'engine: dockerd {{.Server.Version}}' ||
  { echo "engine-check: dockerd did not start; its log ends:" >&2; tail -20 "$R/dockerd.log" >&2; exit 2; }

# The image.
t0=$(seconds)
loaded=$("${D[@]}" load -i "$archive") || { echo "engine-check: docker load failed" >&2; exit 2; }
t1=$(seconds)
ref=$(sed -n 's/^Loaded image: //p' <<<"$loaded" | head -1)
[[ -n $ref ]] || { echo "engine-check: docker load named no image: $loaded" >&2; exit 2; }
echo "loaded: $ref in $(elapsed "$t0" "$t1")"
label() { "${D[@]}" image inspect -f "{{index .Config.Labels \"$1\"}}" "$ref"; }

# One container through the entrypoint's sshd path, as a user on a host network runs it:
# another port through sshd_config.d, the key mounted read-only.
ssh-keygen -q -t ed25519 -N '' -f "$R/key"
install -m 600 "$R/key.pub" "$R/authorized_keys"
ssh_port=$(free_port)
printf 'Port %s\nListenAddress 127.0.0.1\n' "$ssh_port" >"$R/port.conf"
t0=$(seconds)
container=$("${D[@]}" run -d --network host --shm-size=2g \
  -v "$R/authorized_keys:/root/.ssh/authorized_keys:ro" -v "$R/port.conf:/etc/ssh/sshd_config.d/engine-check.conf:ro" \
  "$ref" sshd) || { echo "engine-check: docker run failed" >&2; exit 2; }
t1=$(seconds)
echo "container: ${container:0:12} created and started in $(elapsed "$t0" "$t1")"
in_container() { "${D[@]}" exec "$container" "$@"; }

# Bytecode: the first import in this fresh container against the second.
# bash's `time` of the whole process, interpreter start included; its status is python's.
import_time() { in_container bash -c 'TIMEFORMAT=%R; { time python -c "import torch" >/dev/null 2>&1; } 2>&1'; }
if first=$(import_time) && second=$(import_time); then
  ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$first" "$second")
  verdict=FAIL
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1.1 else 1)" "$ratio" && verdict=ok
  report "$verdict" "import torch" "first ${first} s, second ${second} s, ratio ${ratio} (goal ≤ 1.1)"
  if [[ $verdict != ok ]]; then
    # What the first import had to compile: the .pyc files it wrote into the container's layer.
    written=$("${D[@]}" diff "$container" | sed -n 's/^[AC] \(.*\.pyc\)$/\1/p')
    if [[ -z $written ]]; then
      echo "     the first import wrote no .pyc file (docker diff): the difference is not bytecode"
    else
      echo "     the first import wrote $(wc -l <<<"$written") .pyc files (docker diff), in:"
      sed 's|/__pycache__/.*||' <<<"$written" | sort | uniq -c | sort -rn | head -8 | sed 's/^/     /'
    fi
  fi
else
  report FAIL "import torch" "$(in_container python -c 'import torch' 2>&1 | tail -1)"
fi

# SSH login with a key.
for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break; sleep 1; done
ssh_out=$(/usr/bin/ssh -F /dev/null -i "$R/key" -p "$ssh_port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o BatchMode=yes -o ConnectTimeout=20 -o LogLevel=ERROR root@127.0.0.1 \
  'python -c "import torch; print(torch.__version__)"' 2>&1)
if [[ $? -eq 0 && $ssh_out == "$(label io.imagegen.torch.version)"* ]]; then
  report ok "ssh login" "python -c 'import torch' over ssh: $ssh_out"
else
  report FAIL "ssh login" "$(tr '\n' ' ' <<<"$ssh_out") | container log: $("${D[@]}" logs --tail 5 "$container" 2>&1 | tr '\n' ' ')"
fi

# su and the alternatives.
out=$(in_container su -c id nobody -s /bin/sh 2>&1) && [[ $out == uid=65534* ]] && report ok su "$out" || report FAIL su "$out"
for probe in "awk 'BEGIN { print 6 * 7 }'" "which python" "echo paged | pager"; do
  tool=${probe%% *}
  [[ $tool == echo ]] && tool=pager
  out=$(in_container bash -c "$probe" 2>&1) && report ok "$tool" "$out" || report FAIL "$tool" "$out"
done

# The created date: the lock's `resolved` (or SOURCE_DATE_EPOCH's, when the build had one).
created=$("${D[@]}" image inspect -f '{{.Created}}' "$ref")
listed=$("${D[@]}" images --format '{{.CreatedAt}} ({{.CreatedSince}})' "$ref" | head -1)
if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
  expected=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  source="SOURCE_DATE_EPOCH"
else
  expected=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1])).get('resolved', 'none'))" "$lock" 2>/dev/null || echo "no lock at $lock")
  source="$lock"
fi
if [[ $(date -u -d "$created" +%s 2>/dev/null) == $(date -u -d "$expected" +%s 2>/dev/null) ]]; then
  report ok "created date" "docker images: $listed; $source: $expected"
else
  report FAIL "created date" "docker images: $listed (config: $created); $source: $expected"
fi

# NVIDIA_REQUIRE_CUDA claims only what the image can run.
require=$("${D[@]}" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$ref" | sed -n 's/^NVIDIA_REQUIRE_CUDA=//p')
compat=$(in_container sh -c 'ls /usr/local/cuda*/compat/libcuda.so.* 2>/dev/null; dpkg-query -W -f "\${Package}\n" "cuda-compat*" 2>/dev/null' | head -3)
if [[ $require == *brand=* && -z $compat ]]; then
  report FAIL "NVIDIA_REQUIRE_CUDA" "forward-compatibility branches without cuda-compat: $require"
else
  report ok "NVIDIA_REQUIRE_CUDA" "${require:-unset}${compat:+ (cuda-compat: $compat)}"
fi

# torch, CUDA, cuDNN, NCCL versions against the labels.
torch_label=$(label io.imagegen.torch.version)
if [[ -z $torch_label || $torch_label == "<no value>" ]]; then
  report ok versions "no torch in this image (no io.imagegen.torch.version label)"
else
  out=$(in_container python -c '
import sys, torch
torch_version, cuda, cudnn, nccl = sys.argv[1:5]
got = (torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.nccl.version())
print(*got)
d = [int(x) for x in cudnn.split(".")[:3]]
# cudnnGetVersion(): major*10000 + minor*100 + patch from cuDNN 9 on, major*1000 + … before.
want_cudnn = d[0] * (10000 if d[0] >= 9 else 1000) + d[1] * 100 + d[2]
ok = (got[0] == torch_version or got[0].startswith(torch_version + "+")) and got[1] == cuda \
    and got[2] == want_cudnn and tuple(got[3]) == tuple(int(x) for x in nccl.split(".")[:3])
sys.exit(0 if ok else 1)' "$torch_label" "$(label io.imagegen.cuda.version)" "$(label io.imagegen.cudnn.version)" \
    "$(label io.imagegen.nccl.version)" 2>&1)
  if [[ $? -eq 0 ]]; then
    report ok versions "$out"
  else
    report FAIL versions "$(tail -3 <<<"$out" | tr '\n' ' ') (labels: torch $torch_label, CUDA $(label io.imagegen.cuda.version), cuDNN $(label io.imagegen.cudnn.version), NCCL $(label io.imagegen.nccl.version))"
  fi
fi

# torch.compile on the CPU (Inductor compiles C++ with the image's g++).
out=$(in_container python -c 'import torch; f = torch.compile(lambda x: x.sin() + x.cos()); print(f(torch.zeros(2)))' 2>&1)
[[ $out == *"tensor([1., 1.])"* ]] && report ok torch.compile "$out" || report FAIL torch.compile "$(tail -5 <<<"$out" | tr '\n' ' ')"

# A DataLoader with 2 workers (shared memory: --shm-size).
out=$(in_container python -c '
import torch
from torch.utils.data import DataLoader, TensorDataset
data = TensorDataset(torch.arange(64.0))
print(sum(batch[0].sum().item() for batch in DataLoader(data, batch_size=8, num_workers=2)))' 2>&1)
[[ $out == "2016.0" ]] && report ok DataLoader "2 workers, sum $out" || report FAIL DataLoader "$(tail -5 <<<"$out" | tr '\n' ' ')"

# A devel image: NVCC (from NVIDIA's wheels) compiles a kernel and its host code to an object
# file with the image's gcc — the whole toolchain: cudafe++, cicc, ptxas, fatbinary. No GPU.
nvcc=$(in_container sh -c 'ls /opt/venv/lib/python3*/site-packages/nvidia/*/bin/nvcc 2>/dev/null | head -1')
if [[ -n $nvcc ]]; then
  out=$(in_container sh -c "cd /tmp && printf '%s\n' '__global__ void twice(float *x) { x[threadIdx.x] *= 2; }' \
    'int main() { float *d; cudaMalloc(&d, 4 * sizeof(float)); twice<<<1, 4>>>(d); return cudaDeviceSynchronize(); }' >k.cu \
    && $nvcc -c k.cu -o k.o && $nvcc --version | tail -2 | head -1 && stat -c '%s bytes' k.o" 2>&1)
  [[ $out == *bytes ]] && report ok nvcc "$nvcc: $(tr '\n' ' ' <<<"$out")" || report FAIL nvcc "$(tail -5 <<<"$out" | tr '\n' ' ')"
fi

# Jupyter Lab on a free port.
jupyter_port=$(free_port)
"${D[@]}" exec -d "$container" jupyter lab --ip=127.0.0.1 --port="$jupyter_port" --no-browser --allow-root
answer=""
for _ in $(seq 120); do
  answer=$(python3 -c "import sys, urllib.request; print(urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/api', timeout=5).read().decode())" \
    "$jupyter_port" 2>/dev/null) && break
  sleep 1
done
[[ $answer == *version* ]] && report ok "jupyter lab" "GET /api on $jupyter_port: $answer" || report FAIL "jupyter lab" "no answer on $jupyter_port within 120 s"

echo
if ((failures == 0)); then
  echo "engine-check: $ref: every check passed"
  exit 0
fi
echo "engine-check: $ref: $failures check(s) failed"
exit 1
