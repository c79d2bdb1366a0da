#!/usr/bin/env bash
# Configures a sanitizer build (docs/testing.md, "Sanitizers" and "Fuzzing"), so that
# scripts/sanitize.sh and scripts/fuzz.sh share one build of each kind:
#   scripts/configure-sanitized.sh address,undefined [cmake options]   build-asan/: clang, ASan and UBSan,
#                                                                      the tests and the fuzz targets
#   scripts/configure-sanitized.sh thread [cmake options]              build-tsan/: gcc, TSan, the tests
# -O1 -g1 (line tables): reports that name file and line, and half the compile time of -O2 -g under
# the sanitizers; Debug keeps assert() on. Examples, benchmarks and CUDA are left out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitizers=${1:?usage: configure-sanitized.sh address,undefined|thread [cmake options]}
shift
case $sanitizers in
  # clang: libFuzzer comes with it. One static library serves the fuzzers and the tests.
  address,undefined) dir=build-asan kind=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLAZARUS_FUZZ=ON
                                         -DBUILD_SHARED_LIBS=OFF) ;;
  thread) dir=build-tsan kind=() ;;
  *) echo "configure-sanitized.sh: unknown sanitizers '$sanitizers' (address,undefined or thread)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DLAZARUS_SANITIZE="$sanitizers" "${kind[@]}" -DLAZARUS_BUILD_TESTS=ON -DLAZARUS_BUILD_EXAMPLES=OFF \
  -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF "$@"
