#!/usr/bin/env bash
# Installs the Debian packages that imagegen's build, tests and benchmarks need.
# Sources come from the host's apt configuration. Safe to run again.
#   --build-only   only the C libraries the Swift package links
set -euo pipefail

build=(libarchive-dev libssl-dev zlib1g-dev libzstd-dev pkg-config
       libcurl4-openssl-dev  # libcurl: a --static-swift-stdlib link of Foundation (docs/gpu.md)
       # ISA-L: its header at build time, libisal.so.2 (loaded with dlopen) to inflate ~2 x
       # faster than zlib; without it imagegen inflates with zlib (docs/performance.md)
       libisal-dev libisal2)
tools=(skopeo umoci oci-image-tool buildah docker-registry apache2-utils
       apt-utils dpkg-dev pigz zstd tar coreutils time python3
       # benchmarks/layers' igzip peer; benchmarks/deflate's libdeflate
       isal libdeflate-dev
       python3.11-minimal python3-pip-whl python3-setuptools-whl
       # the real-engine tests: Debian's dockerd, an SSH client to log in, and the host
       # packages their images are repacked from (docs/building.md, "Proof in a real engine")
       docker.io openssh-client openssh-server less ca-certificates python3.11 python3.11-venv
       # the reference root for the maintainer-script comparison
       mmdebstrap
       # linux/arm64 beside amd64: the tests compile an arm64 program and run it under QEMU
       # in a chroot (scripts/qemu-check.sh does the same for a real image's Python)
       qemu-user-static gcc gcc-aarch64-linux-gnu libc6-dev libc6-dev-arm64-cross
       # registries over TLS: the tests make a CA and server certificates (TLSTests)
       openssl)

want=("${build[@]}")
[[ "${1:-}" == "--build-only" ]] || want+=("${tools[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present" >&2
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
