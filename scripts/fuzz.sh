#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in the ASan+UBSan build (build-asan/, clang: see
# scripts/configure-sanitized.sh) and runs each for SECONDS (default 20) as the ctest tests labelled
# `fuzz`. See docs/testing.md, "Fuzzing".
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-20}
scripts/configure-sanitized.sh address,undefined -DLAZARUS_FUZZ_SECONDS="$seconds"
cmake --build build-asan -j"$(nproc)" --target lazarus_fuzzers
ctest --test-dir build-asan -L fuzz -j"$(nproc)" --output-on-failure
