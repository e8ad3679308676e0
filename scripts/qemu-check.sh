#!/usr/bin/env bash
# Runs the arm64 image of a multi-platform build on this (amd64) machine under emulation:
#
#   sudo scripts/qemu-check.sh out/v2.15 [TAG] [-- COMMAND…]
#
# Copies the linux/arm64 manifest out of the image index with skopeo (`--override-arch arm64`,
# so the choice is skopeo's, not imagegen's), unpacks it with umoci, copies Debian's static
# `qemu-aarch64-static` into the root for the run only (no binfmt handler is needed: the
# emulator is the program chroot starts), gives the root what an engine gives a container
# (/dev/null, zero, random, urandom; /proc) and checks, one line each:
#
#   - the copied image's config says arm64
#   - `dpkg --print-architecture` (dpkg itself, emulated) says arm64
#   - `import torch` in the venv prints torch's version, its CUDA version and `aarch64`
#     (`platform.machine()` under QEMU)
#
# or runs COMMAND instead of the torch line. IMAGE is an OCI layout (out/NAME) or its archive
# (out/NAME.tar); TAG defaults to the image's first tag. Needs root (chroot), skopeo, umoci
# and qemu-user-static (scripts/install-deps.sh); no internet, no GPU. Everything it makes is
# under one scratch directory, removed at exit. Exit 0 when every check passes, 1 when one
# fails, 2 when the image could not be set up.
set -uo pipefail

usage="usage: qemu-check.sh IMAGE [TAG] [-- COMMAND…]"
[[ $# -ge 1 ]] || { echo "qemu-check: $usage" >&2; exit 2; }
image=$1
shift
tag=""
if [[ $# -gt 0 && $1 != "--" ]]; then tag=$1; shift; fi
command=()
if [[ $# -gt 0 ]]; then
  [[ $1 == "--" ]] || { echo "qemu-check: $usage" >&2; exit 2; }
  shift
  command=("$@")
fi

[[ $(id -u) -eq 0 ]] || { echo "qemu-check: chroot needs root; run it with sudo" >&2; exit 2; }
for tool in /usr/bin/skopeo /usr/bin/umoci /usr/bin/qemu-aarch64-static /usr/bin/python3; do
  [[ -x $tool ]] || { echo "qemu-check: $tool is missing: scripts/install-deps.sh installs it" >&2; exit 2; }
done
if [[ -d $image ]]; then
  transport=oci
  index_json=$(cat "$image/index.json" 2>/dev/null) || { echo "qemu-check: $image has no index.json (not an OCI layout)" >&2; exit 2; }
elif [[ -f $image ]]; then
  transport=oci-archive
  index_json=$(tar -xOf "$image" index.json 2>/dev/null) || { echo "qemu-check: $image has no index.json (not an OCI archive)" >&2; exit 2; }
else
  echo "qemu-check: no such image: $image" >&2; exit 2
fi
if [[ -z $tag ]]; then
  tag=$(python3 -c 'import json,sys; m=json.loads(sys.argv[1])["manifests"]; print(next((d["annotations"]["org.opencontainers.image.ref.name"] for d in m if "annotations" in d), ""))' "$index_json")
  [[ -n $tag ]] || { echo "qemu-check: $image names no tag; give one" >&2; exit 2; }
fi

R=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-qemu-check-XXXXXX")
root=$R/bundle/rootfs
cleanup() {
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
  # Never remove through a mount: not while /proc is mounted, and never across file systems.
  if mountpoint -q "$root/proc" 2>/dev/null; then
    echo "qemu-check: $root/proc is still mounted; $R left in place" >&2
  else
    rm -rf --one-file-system "$R"
  fi
}
trap cleanup EXIT
failures=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ $3 == *"$2"* ]]; then echo "ok    $1: $3"; else echo "FAIL  $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}

started=$(date +%s)
if ! skopeo copy --quiet --override-arch arm64 --override-os linux "$transport:$image:$tag" "oci:$R/arm64:arm64" >"$R/copy.log" 2>&1; then
  echo "qemu-check: skopeo copy --override-arch arm64 failed (no linux/arm64 image?): $(tail -1 "$R/copy.log")" >&2; exit 2
fi
architecture=$(python3 - "$R/arm64" <<'EOF'
import json, sys
layout = sys.argv[1]
def blob(digest):
    return json.load(open(f"{layout}/blobs/{digest.replace(':', '/')}"))
manifest = blob(json.load(open(f"{layout}/index.json"))["manifests"][0]["digest"])
print(blob(manifest["config"]["digest"])["architecture"])
EOF
)
check "skopeo copy --override-arch arm64: the config's architecture" arm64 "$architecture"
if ! umoci unpack --image "$R/arm64:arm64" "$R/bundle" >"$R/unpack.log" 2>&1; then
  echo "qemu-check: umoci unpack failed: $(tail -1 "$R/unpack.log")" >&2; exit 2
fi
echo "      unpacked in $(( $(date +%s) - started )) s: $(du -sh "$root" | cut -f1)"
# What is written into the root as root must not go through one of the image's symlinks.
for path in usr usr/bin dev proc usr/bin/qemu-aarch64-static; do
  [[ ! -L $root/$path ]] || { echo "qemu-check: /$path in the image is a symlink; refusing to write through it" >&2; exit 2; }
done
cp /usr/bin/qemu-aarch64-static "$root/usr/bin/qemu-aarch64-static"
# What a container engine gives every container: the usual device nodes and /proc.
mkdir -p "$root/dev" "$root/proc"
for node in "null 1 3" "zero 1 5" "random 1 8" "urandom 1 9"; do
  set -- $node
  [[ -e $root/dev/$1 || -L $root/dev/$1 ]] || mknod -m 666 "$root/dev/$1" c "$2" "$3"
done
mount -t proc proc "$root/proc"

emulate() { chroot "$root" /usr/bin/qemu-aarch64-static "$@"; }
check "dpkg --print-architecture (emulated)" arm64 "$(emulate /usr/bin/dpkg --print-architecture 2>&1)"
if [[ ${#command[@]} -gt 0 ]]; then
  emulate "${command[@]}"
  status=$?
  [[ $status -eq 0 ]] || { echo "FAIL  ${command[*]}: exit $status"; failures=$((failures + 1)); }
else
  t0=$(date +%s)
  line=$(emulate /opt/venv/bin/python -c 'import platform, torch; print(torch.__version__, torch.version.cuda, platform.machine())' 2>&1 | tail -1)
  check "import torch (emulated, $(( $(date +%s) - t0 )) s): version, CUDA, machine" aarch64 "$line"
fi
[[ $failures -eq 0 ]] || { echo "qemu-check: $failures check(s) failed" >&2; exit 1; }
echo "qemu-check: every check passed"
