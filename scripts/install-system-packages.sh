#!/usr/bin/env bash
# Installs the Debian packages phigate builds and tests against, if any is missing.
# Idempotent: does nothing (and needs no network) when everything is already there.
set -euo pipefail

packages=(
  pkg-config
  libopenblas-dev     # cblas for the inference core
  libsqlite3-dev      # outcome log (GRDB over the system SQLite)
  libcurl4-openssl-dev
  python3-venv        # Tests/clients: the official openai SDK in a virtual environment
  nginx-light         # scripts/bench-gateway.sh: a fast fixed-JSON upstream
  wrk                 # scripts/bench-gateway.sh: load generator
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "phigate: installing system packages: ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
