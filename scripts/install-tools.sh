#!/usr/bin/env bash
# Installs the Python tools that check imagegen's supply-chain output and its CI workflows
# into a virtual environment of their own: the SPDX, CycloneDX, purl and in-toto libraries
# that scripts/validate-sbom.py validates with, check-jsonschema, and zizmor (the workflow
# auditor scripts/test runs). Packages come through the host's pip configuration.
# Safe to run again: when the venv already holds this exact set of pins it returns at once.
#   IMAGEGEN_TOOLS_VENV   where the venv goes (default: .tools/venv in the repository)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${IMAGEGEN_TOOLS_VENV:-$root/.tools/venv}

requirements=(
  spdx-tools==0.8.5                           # parse + validate SPDX 2.3 (pyspdxtools)
  "cyclonedx-python-lib[json-validation]==11.12.0"  # CycloneDX 1.6 JSON schema, strict
  packageurl-python==0.17.6                   # purl parse / round trip
  check-jsonschema==0.39.0
  in-toto-attestation==0.9.3                  # in-toto Statement v1, SLSA provenance v1
  zizmor==1.32.0                              # audits .github/workflows
)

# The stamp records the pins last installed: a changed pin reinstalls, and a venv whose
# interpreter no longer runs (the host's Python replaced) is made again.
stamp="$venv/.imagegen-tools"
want=$(printf '%s\n' "${requirements[@]}")
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c '' 2>/dev/null \
   && [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
  echo "install-tools: ${#requirements[@]} tools present in $venv" >&2
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
  echo "install-tools: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
echo "install-tools: installing ${requirements[*]}" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
printf '%s\n' "$want" > "$stamp"
