#!/usr/bin/env bash
# Quick start, second command: installs what is missing, then runs every test stage CI runs
# (docs/testing.md, "CI"):
#   1. the fuzz targets briefly, in the ASan+UBSan build (build-asan/, clang);
#   2. the unit and MPI tests in that build, then in the TSan build (build-tsan/);
#   3. with Open MPI's parallel HDF5 (build-parallel-hdf5/: a Debug build at -O0, no examples, no
#      CUDA): the tests whose code depends on the HDF5 flavour;
#   4. the default build (build/: serial HDF5, CUDA where nvcc is found): the whole suite but the
#      long fault campaign (label campaign: `ctest -L campaign`).
# The script stops at the first failure; its output ends with ctest's summary of the default build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
jobs=$(nproc)

build() {
  local dir=$1
  shift
  echo "=== configure and build $dir $*"
  cmake -S . -B "$dir" -DLAZARUS_BUILD_TESTS=ON "$@"
  cmake --build "$dir" -j"$jobs"
}

# 10 s per target, as many at a time as there are cores (scripts/fuzz.sh 600 fuzzes longer).
echo "=== fuzz targets (build-asan)"
scripts/fuzz.sh 10

scripts/sanitize.sh address,undefined thread

build build-parallel-hdf5 -DHDF5_PREFER_PARALLEL=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O0 -g1" \
  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DLAZARUS_BUILD_EXAMPLES=OFF -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF
echo "=== tests with parallel HDF5"
ctest --test-dir build-parallel-hdf5 --output-on-failure -LE campaign

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAZARUS_BUILD_EXAMPLES=ON -DLAZARUS_BUILD_BENCH=ON
echo "=== tests with serial HDF5"
ctest --test-dir build --output-on-failure -LE campaign
