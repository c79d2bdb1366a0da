#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang in build-fuzz/ (ASan and UBSan throughout)
# and runs each for SECONDS (default 20) as the ctest tests labelled `fuzz`. See docs/testing.md,
# "Fuzzing".
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-20}
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLAZARUS_FUZZ=ON -DLAZARUS_FUZZ_SECONDS="$seconds" -DLAZARUS_BUILD_TESTS=OFF -DLAZARUS_BUILD_EXAMPLES=OFF \
  -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF -DBUILD_SHARED_LIBS=OFF
cmake --build build-fuzz -j"$(nproc)" --target lazarus_fuzzers
ctest --test-dir build-fuzz -L fuzz -j"$(nproc)" --output-on-failure
