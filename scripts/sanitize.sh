#!/usr/bin/env bash
# Builds Lazarus with sanitizers and runs the unit and MPI tests (the crash tests and the async and
# background-flush tests among them) under them: docs/testing.md, "Sanitizers".
#   scripts/sanitize.sh                      both builds: build-asan/ (ASan+UBSan), then build-tsan/ (TSan)
#   scripts/sanitize.sh address,undefined    one of them
#   scripts/sanitize.sh thread
# Examples, benchmarks and CUDA are left out: the tests that need them are not run here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

run() {
  local sanitizers=$1 dir
  case $sanitizers in
    address,undefined) dir=build-asan ;;
    thread) dir=build-tsan ;;
    *) echo "sanitize.sh: unknown sanitizers '$sanitizers' (address,undefined or thread)" >&2; exit 2 ;;
  esac
  echo "=== configure and build $dir (-fsanitize=$sanitizers)"
  # -O1 -g1 (line tables): readable reports, and half the compile time of -O2 -g under the sanitizers.
  # Debug keeps assert() on.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DLAZARUS_SANITIZE="$sanitizers" -DLAZARUS_BUILD_TESTS=ON -DLAZARUS_BUILD_EXAMPLES=OFF \
    -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF
  cmake --build "$dir" -j"$jobs" --target lazarus_unit_and_mpi_tests
  echo "=== unit and MPI tests under -fsanitize=$sanitizers"
  ctest --test-dir "$dir" --output-on-failure -L 'unit|mpi'
}

if [ $# -eq 0 ]; then set -- address,undefined thread; fi
for sanitizers in "$@"; do run "$sanitizers"; done
