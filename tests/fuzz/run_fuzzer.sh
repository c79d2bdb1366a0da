#!/usr/bin/env bash
# One fuzz.<name> test: runs a libFuzzer target for a bounded time, starting from the seeds in the
# repository, which it never writes to. New inputs go to a scratch corpus folder (emptied first, so
# that every run starts from the same seeds); an input that crashes, hangs (over 5 s, unless the
# options given say otherwise), leaks or takes over 2 GiB goes to the artifacts folder, whose path
# libFuzzer prints. The test fails on any such input.
#   run_fuzzer.sh FUZZER SEEDS SCRATCH ARTIFACTS SECONDS [libFuzzer options...]
set -euo pipefail
fuzzer=$1 seeds=$2 scratch=$3 artifacts=$4 seconds=$5
shift 5
rm -rf "$scratch"
mkdir -p "$scratch" "$artifacts"
# Leaks in libraries Lazarus cannot fix (HDF5's, Open MPI's) are listed in tests/sanitizers/lsan.supp.
export LSAN_OPTIONS="suppressions=$(dirname "$0")/../sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The first folder receives what libFuzzer adds; the seeds are only read.
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$scratch" "$seeds"
