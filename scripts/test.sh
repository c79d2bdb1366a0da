#!/usr/bin/env bash
# Quick start, second command: installs what is missing, runs the fuzz targets briefly (a clang
# build with ASan and UBSan, build-fuzz/), builds Lazarus twice (with Open MPI's parallel HDF5 and
# without CUDA, then with serial HDF5 and, where nvcc is found, CUDA: the defaults) and runs the
# whole test suite on each build, but the long fault campaign (label campaign: `ctest -L campaign`,
# docs/testing.md). The output ends with ctest's summary of the second build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
jobs=$(nproc)

build() {
  local dir=$1
  shift
  echo "=== configure and build $dir $*"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAZARUS_BUILD_TESTS=ON -DLAZARUS_BUILD_EXAMPLES=ON "$@"
  cmake --build "$dir" -j"$jobs"
}

# First, so that the output still ends with the last build's summary. 10 s per target, as many at a
# time as there are cores (docs/testing.md, "Fuzzing"; scripts/fuzz.sh 600 fuzzes longer).
echo "=== fuzz targets (build-fuzz)"
scripts/fuzz.sh 10

build build-parallel-hdf5 -DHDF5_PREFER_PARALLEL=ON -DLAZARUS_BUILD_BENCH=OFF -DLAZARUS_CUDA=OFF
echo "=== tests with parallel HDF5"
ctest --test-dir build-parallel-hdf5 --output-on-failure -LE campaign

build build -DLAZARUS_BUILD_BENCH=ON
echo "=== tests with serial HDF5"
ctest --test-dir build --output-on-failure -LE campaign
