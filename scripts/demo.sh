#!/usr/bin/env bash
# Lazarus in one command: install what is missing, build, then run the heat2d example twice with 4
# ranks: once uninterrupted, once under `lazarus run` on 4 logical nodes plus 1 spare, with node n2
# killed mid-run. The launcher detects the loss, tears the job down, restarts it on the spare node
# and the application resumes from its newest checkpoint; both runs must end with the same checksum.
#
# Usage: scripts/demo.sh     (from anywhere; builds into build-demo/ at the repository root)
# Env:   BUILD_DIR (default build-demo), HEAT2D_ARGS (extra heat2d options, e.g. "--n 1024 --steps 3000"),
#        KILL_AFTER (seconds before node n2 is killed, default 6)
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
build=$(realpath -m "${BUILD_DIR:-build-demo}")
kill_after=${KILL_AFTER:-6}
# shellcheck disable=SC2206  # split on purpose: a list of options
extra=(${HEAT2D_ARGS:-})

# Open MPI: allow root (containers, CI) and more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

section() { printf '\n=== %s ===\n' "$*"; }
indent() { sed -u 's/^/    /'; }
fail() {
  printf '\ndemo: FAIL — %s\n' "$*" >&2
  exit 1
}
checksum_of() { sed -n 's/^checksum: \([0-9a-f]\{16\}\)$/\1/p' "$1" | tail -n 1; }

section "1/4  Dependencies"
scripts/install-deps.sh

section "2/4  Build (Release) into $build/"
mkdir -p "$build"
buildlog=$build/demo-build.log
echo "    cmake configure + build of heat2d and the lazarus command (log: $buildlog)"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLAZARUS_BUILD_EXAMPLES=ON \
         -DLAZARUS_BUILD_TESTS=OFF -DLAZARUS_BUILD_BENCH=OFF &&
       cmake --build "$build" -j"$(nproc)" --target heat2d lazarus_cli; } >"$buildlog" 2>&1; then
  tail -n 30 "$buildlog" | indent
  fail "the build failed (full log: $buildlog)"
fi
heat2d=$build/examples/heat2d/heat2d
lazarus=$build/bin/lazarus
mpiexec=$(sed -n 's/^MPIEXEC_EXECUTABLE:FILEPATH=//p' "$build/CMakeCache.txt")
mpiexec=${mpiexec:-mpirun}
echo "    built $heat2d and $lazarus"

ckpt=$build/demo-ckpt  # checkpoints, events and logs of both runs, kept for a look afterwards
rm -rf "$ckpt"
mkdir -p "$ckpt"

section "3/4  Uninterrupted run: mpirun -n 4 heat2d"
start=$SECONDS
"$mpiexec" -n 4 "$heat2d" "${extra[@]}" --dir "$ckpt" --job uninterrupted 2>&1 |
  tee "$ckpt/uninterrupted.log" | grep -v '^checkpoint version' | indent || fail "the uninterrupted run failed"
expected=$(checksum_of "$ckpt/uninterrupted.log")
[[ -n $expected ]] || fail "the uninterrupted run printed no checksum"
echo "    -> checksum $expected in $((SECONDS - start)) s"

section "4/4  Under the launcher: 4 logical nodes + 1 spare, node n2 killed after ${kill_after} s"
echo "    lazarus run -n 4 --local-nodes 5 --spares 1 --inject \"kill node=n2 after=${kill_after}s\" -- heat2d"
set +e
"$lazarus" run -n 4 --local-nodes 5 --ranks-per-node 1 --spares 1 --dir "$ckpt" --job supervised \
  --inject "kill node=n2 after=${kill_after}s" -- "$heat2d" "${extra[@]}" 2>&1 |
  tee "$ckpt/supervised.log" | grep -v -e '^checkpoint version' -e 'checkpoint version [0-9]* committed' \
    -e '^---' -e 'Primary job' -e 'a non-zero exit code' | indent
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 0 ]] || fail "lazarus run exited with status $status"
grep -q 'node n2 is lost' "$ckpt/supervised.log" || fail "the launcher did not report the lost node"
grep -q 'spare n5 replaces n2' "$ckpt/supervised.log" || fail "the spare did not replace the lost node"
grep -q '^resumed from checkpoint version' "$ckpt/supervised.log" || fail "the restarted job did not resume"
got=$(checksum_of "$ckpt/supervised.log")
[[ -n $got ]] || fail "the supervised run printed no checksum"

section "Result"
echo "    uninterrupted run:             checksum $expected"
echo "    node lost, restarted on spare: checksum $got"
echo "    events: $ckpt/supervised/events.jsonl"
[[ $got == "$expected" ]] || fail "the checksums differ"
echo
echo "demo: PASS — the job survived the loss of node n2 and matches the uninterrupted run"
