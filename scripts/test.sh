#!/usr/bin/env bash
# The test command (README): installs missing system packages, builds with the import check that
# keeps the target graph honest, runs the real-client and benchmark smokes, then the Swift test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-system-packages.sh

swift build --explicit-target-dependency-import-check error

# The official openai Python SDK against a running `phigate serve` (fake upstream on loopback).
Tests/clients/run.sh

swift test
