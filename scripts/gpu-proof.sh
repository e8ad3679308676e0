#!/usr/bin/env bash
# The GPU proof of docs/gpu.md: build the cuda-smoke image offline on a GPU host and run its
# cuda-check there with `imagegen run-check`.
#
#   scripts/gpu-proof.sh prepare DIR   # here: a static imagegen, cuda-smoke's spec, lock and artifacts → DIR (about 64 MB)
#   DIR/gpu-proof.sh run DIR           # on the GPU host, as root: build offline, verify, check-host, run-check
#
# prepare needs the release binary built with
#   swift build -c release --static-swift-stdlib --product imagegen
# (libcurl4-openssl-dev installed) and cuda-smoke's artifacts in the cache (`imagegen build
# cuda-smoke` once). The GPU host needs no Swift and no network. Its libraries are checked
# with ldd; lib.tar.xz in DIR, when present, holds this host's copies of libraries it lacks.
# run writes its logs to $OUT (default DIR/out).
set -uo pipefail

mode=${1:-}
dir=${2:-}
[[ -n "$mode" && -n "$dir" ]] || { sed -n '2,14p' "$0"; exit 64; }

if [[ "$mode" == prepare ]]; then
  set -e
  root=$(cd "$(dirname "$0")/.." && pwd)
  bin=${IMAGEGEN_RELEASE_BINARY:-$root/.build/release/imagegen}
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/imagegen
  mkdir -p "$dir/Images" "$dir/cache/artifacts/sha256"
  strip -o "$dir/imagegen" "$bin"
  xz -9 -T0 -f "$dir/imagegen"
  cp "$root/Images/cuda-smoke.yaml" "$root/Images/cuda-smoke.lock.json" "$dir/Images/"
  python3 - "$root/Images/cuda-smoke.lock.json" "$cache/artifacts/sha256" "$dir/cache/artifacts/sha256" <<'EOF'
import json, shutil, sys
lock, source, target = sys.argv[1:]
entries = json.load(open(lock))
for artifact in entries["debs"] + entries["wheels"]:
    digest = artifact["sha256"].split(":")[1]
    shutil.copy(f"{source}/{digest}", f"{target}/{digest}")
EOF
  cp "$0" "$dir/gpu-proof.sh"
  du -sh "$dir"
  exit 0
fi

[[ "$mode" == run ]] || { echo "gpu-proof: unknown mode '$mode' (prepare or run)" >&2; exit 64; }
dir=$(cd "$dir" && pwd)
OUT=${OUT:-$dir/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-proof.log") 2>&1
step() { echo; echo "### $*"; }

step host; uname -r; head -2 /etc/os-release; nproc
step nvidia-smi; nvidia-smi | tee "$OUT/nvidia-smi.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
step "driver files"; cat /proc/driver/nvidia/version; ls -la /dev/nvidia*
ldconfig -p | grep -E "libcuda\.|libnvidia-(ml|ptxjitcompiler|nvvm|gpucomp)"

step binary
python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
  "$dir/imagegen.xz" /tmp/imagegen && chmod +x /tmp/imagegen
missing=$(ldd /tmp/imagegen | awk '/not found/ {print $1}')
echo "libraries missing on this host: ${missing:-none}"
if [[ -n "$missing" && -f "$dir/lib.tar.xz" ]]; then
  mkdir -p /tmp/imagegen-lib /tmp/imagegen-lib-use
  python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$dir/lib.tar.xz" /tmp/imagegen-lib
  for m in $missing; do ln -sf "/tmp/imagegen-lib/$m" "/tmp/imagegen-lib-use/$m"; done
  export LD_LIBRARY_PATH=/tmp/imagegen-lib-use
fi
/tmp/imagegen --version || exit 1
ig=/tmp/imagegen

step "build cuda-smoke offline from the carried artifacts"
time $ig build cuda-smoke --images "$dir/Images" --cache "$dir/cache" --offline --out /tmp/out | tee "$OUT/build.txt"
ls -l /tmp/out/cuda-smoke.tar
$ig verify /tmp/out/cuda-smoke.tar

step check-host; $ig check-host cuda-smoke --images "$dir/Images"

step run-check
cd /tmp
time $ig run-check /tmp/out/cuda-smoke.tar 2>&1 | tee "$OUT/run-check.txt"
status=${PIPESTATUS[0]}
echo "run-check exit status: $status" | tee -a "$OUT/run-check.txt"

step "anything left behind?"; ls -d /tmp/imagegen-run-check-* 2>&1; grep -c imagegen-run-check /proc/self/mountinfo

step "the layout, NVRTC alone"
$ig run-check /tmp/out/cuda-smoke -- /usr/local/bin/cuda-check --compile-only 2>&1 | tail -4
step "without the driver (a container without --gpus), and with no GPU visible"
$ig run-check /tmp/out/cuda-smoke.tar --no-driver 2>&1 | tail -2
$ig run-check /tmp/out/cuda-smoke.tar --env CUDA_VISIBLE_DEVICES= 2>&1 | tail -2
step "a driver that cannot run the image"
$ig run-check /tmp/out/cuda-smoke.tar --driver 470.57.02; echo "exit $?"
exit "$status"
