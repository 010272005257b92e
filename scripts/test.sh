#!/usr/bin/env bash
# The test command (README): installs missing system packages, builds with the import check that
# keeps the target graph honest, runs the real-client and benchmark smokes, then the Swift test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-system-packages.sh

swift build --explicit-target-dependency-import-check error

# Smoke of the local benchmark command on a tiny fixture, so the command cannot rot (prints numbers, asserts none).
"$(swift build --show-bin-path)/phigate" bench local \
  --model Tests/Fixtures/phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf --prompt-tokens 8 --gen-tokens 4 --context 6 --reps 1
"$(swift build --show-bin-path)/phigate" bench sampler --vocabularies 1000 --tokens 2

# The official openai Python SDK against a running `phigate serve` (fake upstream on loopback).
Tests/clients/run.sh

# One test at a time: many tests drive servers, streams, timeouts and queues through Swift concurrency, and in a
# parallel run on two cores the CPU-bound suites (kernels, fuzzing, sampling) hold the cooperative threads for
# seconds, so those tests' waits failed now and then on CI. Serial takes about 4 minutes instead of 2.
swift test --no-parallel
