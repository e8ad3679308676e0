#!/usr/bin/env bash
# The GPU proof of docs/gpu.md: the cuda-smoke image's cuda-check, run on a GPU host with
# `imagegen run-check`, and the exit statuses of the paths that must fail.
#
#   scripts/gpu-proof.sh prepare DIR   # here: a static imagegen, cuda-smoke built by it, its spec and lock → DIR
#   DIR/gpu-proof.sh run DIR           # on the GPU host, as root: verify, check-host, run-check five ways
#
# prepare needs the release binary built with
#   swift build -c release --static-swift-stdlib --product imagegen
# (libcurl4-openssl-dev installed; IMAGEGEN_RELEASE_BINARY names another path), cuda-smoke's
# artifacts in the cache (`imagegen build cuda-smoke` once) and a python3.11 for its bytecode.
# The GPU host needs no Swift and no network (a python3 of any version unpacks the xz files): it
# gets the image built here (cuda-smoke.tar), or, where DIR/cache holds the artifacts instead,
# builds it offline (the bytecode then needs a python3.11 there). Its libraries are checked with
# ldd; DIR/lib.tar.xz holds this host's copies of the binary's libraries beyond glibc, for those
# it lacks. run writes its logs to $OUT (default DIR/out) and exits 0 only if every step gave the
# status it must.
set -uo pipefail

mode=${1:-}
dir=${2:-}
[[ -n "$mode" && -n "$dir" ]] || { sed -n '2,18p' "$0"; exit 64; }

if [[ "$mode" == prepare ]]; then
  set -e
  root=$(cd "$(dirname "$0")/.." && pwd)
  bin=${IMAGEGEN_RELEASE_BINARY:-$root/.build/release/imagegen}
  mkdir -p "$dir/Images"
  strip -o "$dir/imagegen" "$bin"
  cp "$root/Images/cuda-smoke.yaml" "$root/Images/cuda-smoke.lock.json" "$dir/Images/"
  "$dir/imagegen" build cuda-smoke --images "$dir/Images" --offline --out "$dir/build" 2>&1 | tee "$dir/build.txt"
  mv "$dir/build/cuda-smoke.tar" "$dir/cuda-smoke.tar"
  rm -rf "$dir/build"
  xz -9 -T0 -f "$dir/imagegen"
  # The binary's libraries beyond glibc, for a host that lacks some.
  ldd "$bin" | awk '$3 ~ /^\// {print $3}' | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' \
    | python3 -c 'import os, sys, tarfile
with tarfile.open(sys.argv[1], "w:xz") as t:
    for path in sys.stdin.read().split():
        t.add(os.path.realpath(path), arcname=os.path.basename(path))' "$dir/lib.tar.xz"
  cp "$0" "$dir/gpu-proof.sh"
  du -sh "$dir" "$dir"/*
  exit 0
fi

[[ "$mode" == run ]] || { echo "gpu-proof: unknown mode '$mode' (prepare or run)" >&2; exit 64; }
dir=$(cd "$dir" && pwd)
OUT=${OUT:-$dir/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-proof.log") 2>&1
step() { echo; echo "### $*"; }
failures=()
expect() {  # expect STATUS WHAT: record a step whose exit status was not STATUS
  local got=$1 want=$2 what=$3
  echo "exit $got (expected $want)"
  [[ "$got" == "$want" ]] || failures+=("$what exited $got, expected $want")
}

step host; date -u '+%Y-%m-%d %H:%M:%S UTC'; uname -r; head -2 /etc/os-release; nproc
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

mkdir -p /tmp/out
if [[ -f "$dir/cuda-smoke.tar" ]]; then
  step "the image built on the build host"
  cp "$dir/cuda-smoke.tar" /tmp/out/cuda-smoke.tar
  grep '^image sha256:' "$dir/build.txt"
else
  step "build cuda-smoke offline from the carried artifacts"
  time $ig build cuda-smoke --images "$dir/Images" --cache "$dir/cache" --offline --out /tmp/out | tee "$OUT/build.txt"
  expect "${PIPESTATUS[0]}" 0 "build"
fi
ls -l /tmp/out/cuda-smoke.tar
$ig verify /tmp/out/cuda-smoke.tar; expect $? 0 "verify"

step check-host; $ig check-host cuda-smoke --images "$dir/Images"; expect $? 0 "check-host"

step run-check
cd /tmp
time $ig run-check /tmp/out/cuda-smoke.tar 2>&1 | tee "$OUT/run-check.txt"
status=${PIPESTATUS[0]}
echo "run-check exit status: $status" | tee -a "$OUT/run-check.txt"
expect "$status" 0 "run-check (cuda-check on the GPUs)"

step "anything left behind?"; ls -d /tmp/imagegen-run-check-* 2>&1; grep -c imagegen-run-check /proc/self/mountinfo

step "the layout (the archive holds one: oci-layout, index.json, blobs/), NVRTC alone"
[[ -f /tmp/out/cuda-smoke/index.json ]] || { mkdir -p /tmp/out/cuda-smoke && tar -xf /tmp/out/cuda-smoke.tar -C /tmp/out/cuda-smoke; }
$ig run-check /tmp/out/cuda-smoke -- /usr/local/bin/cuda-check --compile-only 2>&1 | tail -4; expect "${PIPESTATUS[0]}" 0 "cuda-check --compile-only"
step "without the driver (a container without --gpus): no driver"
$ig run-check /tmp/out/cuda-smoke.tar --no-driver 2>&1 | tail -2; expect "${PIPESTATUS[0]}" 2 "run-check --no-driver"
step "no GPU visible"
$ig run-check /tmp/out/cuda-smoke.tar --env CUDA_VISIBLE_DEVICES= 2>&1 | tail -2; expect "${PIPESTATUS[0]}" 4 "run-check with CUDA_VISIBLE_DEVICES="
step "a driver too old for the image"
$ig run-check /tmp/out/cuda-smoke.tar --driver 470.57.02; expect $? 1 "run-check --driver 470.57.02"

step result
if (( ${#failures[@]} == 0 )); then
  echo "gpu-proof: PASS: verify, check-host, cuda-check OK on the GPUs, --compile-only 0, no driver 2, no GPU 4, old driver 1"
  exit 0
fi
printf 'gpu-proof: FAIL: %s\n' "${failures[@]}"
exit 1
