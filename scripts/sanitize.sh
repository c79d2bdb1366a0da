#!/usr/bin/env bash
# Builds Lazarus with sanitizers and runs the tests labelled unit and mpi under them (the crash
# tests, async mode and the background flush among them): docs/testing.md, "Sanitizers".
#   scripts/sanitize.sh                      both builds: build-asan/ (ASan+UBSan), then build-tsan/ (TSan)
#   scripts/sanitize.sh address,undefined    one of them
#   scripts/sanitize.sh thread
# Examples, benchmarks and CUDA are left out: no test run here needs them. The TSan build leaves out
# the launcher's unit tests (label launcher): the launcher runs no thread of its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

run() {
  local sanitizers=$1 dir targets exclude=()
  case $sanitizers in
    address,undefined) dir=build-asan targets="lazarus_library_tests lazarus_launcher_unit_tests" ;;
    thread) dir=build-tsan targets=lazarus_library_tests exclude=(-LE launcher) ;;
    *) echo "sanitize.sh: unknown sanitizers '$sanitizers' (address,undefined or thread)" >&2; exit 2 ;;
  esac
  echo "=== configure and build $dir (-fsanitize=$sanitizers)"
  # -O1 -g1 (line tables): reports that name file and line, and half the compile time of -O2 -g
  # under the sanitizers. Debug keeps assert() on.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DLAZARUS_SANITIZE="$sanitizers" -DLAZARUS_BUILD_TESTS=ON -DLAZARUS_BUILD_EXAMPLES=OFF \
    -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF
  # shellcheck disable=SC2086
  cmake --build "$dir" -j"$jobs" --target $targets
  echo "=== tests labelled unit or mpi under -fsanitize=$sanitizers"
  ctest --test-dir "$dir" --output-on-failure -L 'unit|mpi' "${exclude[@]}"
}

if [ $# -eq 0 ]; then set -- address,undefined thread; fi
for sanitizers in "$@"; do run "$sanitizers"; done
