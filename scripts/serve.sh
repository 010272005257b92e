#!/usr/bin/env bash
# The run command (README): installs missing system packages, builds phigate in release mode and
# starts the gateway with config/phigate.yaml (or the file in PHIGATE_CONFIG). Extra arguments go
# to `phigate serve`, e.g. `scripts/serve.sh --port 9000`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-system-packages.sh
swift build -c release --product phigate
exec .build/release/phigate serve --config "${PHIGATE_CONFIG:-config/phigate.yaml}" "$@"
