#!/usr/bin/env bash
# Lazarus in one command: build the heat2d example, run it uninterrupted, run it again and kill it
# with SIGKILL mid-run, rerun it, and show that the resumed run ends bit-identical to the first.
#
# Usage: scripts/demo.sh          (from anywhere; builds into build/ at the repository root)
# Env:   NP (ranks, default 4), HEAT2D_ARGS (extra heat2d options, e.g. "--n 1024 --steps 3000"),
#        BUILD_DIR (default build, relative to the repository root)
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
np=${NP:-4}
build=$(realpath -m "${BUILD_DIR:-build}")
kill_after=3  # checkpoint version after which the job is killed
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

sid=""  # session of the job to be killed, while it runs
# shellcheck source=scripts/lib/job_control.sh
source scripts/lib/job_control.sh
cleanup() { if [[ -n $sid ]]; then kill_session "$sid" || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

section "1/5  Dependencies"
if [[ -x scripts/install-deps.sh ]]; then
  scripts/install-deps.sh
else
  echo "    scripts/install-deps.sh not found; using what is installed"
fi

section "2/5  Build (Release) into $build/"
mkdir -p "$build"
buildlog=$build/demo-build.log
echo "    cmake configure + build of heat2d (log: $buildlog)"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLAZARUS_BUILD_EXAMPLES=ON \
         -DLAZARUS_BUILD_TESTS=OFF -DLAZARUS_BUILD_BENCH=OFF &&
       cmake --build "$build" -j"$(nproc)" --target heat2d; } >"$buildlog" 2>&1; then
  tail -n 30 "$buildlog" | indent
  fail "the build failed (full log: $buildlog)"
fi
heat2d=$build/examples/heat2d/heat2d
[[ -x $heat2d ]] || fail "no heat2d at $heat2d after the build"
mpiexec=$(sed -n 's/^MPIEXEC_EXECUTABLE:FILEPATH=//p' "$build/CMakeCache.txt")
mpiexec=${mpiexec:-mpirun}
echo "    built $heat2d"

ckpt=$build/demo-ckpt  # checkpoints and logs of the three runs, kept for a look afterwards
rm -rf "$ckpt"
mkdir -p "$ckpt"
run_heat2d() {  # run_heat2d JOB: heat2d with np ranks, checkpoints under $ckpt/JOB
  "$mpiexec" -n "$np" "$heat2d" "${extra[@]}" --dir "$ckpt" --job "$1"
}
checksum_of() { sed -n 's/^checksum: \([0-9a-f]\{16\}\)$/\1/p' "$1" | tail -n 1; }

section "3/5  Uninterrupted run ($np ranks)"
start=$SECONDS
run_heat2d uninterrupted 2>&1 | tee "$ckpt/uninterrupted.log" | indent || fail "the uninterrupted run failed"
expected=$(checksum_of "$ckpt/uninterrupted.log")
[[ -n $expected ]] || fail "the uninterrupted run printed no checksum"
echo "    -> checksum $expected in $((SECONDS - start)) s"

section "4/5  Same job again, to be killed with SIGKILL after checkpoint version $kill_after"
log=$ckpt/crashed.log
: >"$log"
# A session of its own, so that mpirun and every rank can be killed at once like a node failure.
# The inner shell reports the session id and becomes mpirun through exec.
# shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
setsid -w bash -c 'echo $$ >"$0"; exec "$@"' "$ckpt/crashed.sid" \
  "$mpiexec" -n "$np" "$heat2d" "${extra[@]}" --dir "$ckpt" --job crashed >"$log" 2>&1 &
job=$!
disown "$job"  # no "Killed" notice from bash; the log tells whether it finished
shown=0
show_new_lines() {  # print complete lines of $log not shown yet
  local total
  total=$(wc -l <"$log")
  if ((total > shown)); then
    sed -n "$((shown + 1)),${total}p" "$log" | indent
    shown=$total
  fi
}
until grep -q "^checkpoint version $kill_after at step" "$log"; do
  kill -0 "$job" 2>/dev/null || { show_new_lines; fail "the job ended before checkpoint version $kill_after"; }
  show_new_lines
  sleep 0.1
done
show_new_lines
sid=$(<"$ckpt/crashed.sid")
echo
echo "=== killing the job after checkpoint version $kill_after (SIGKILL to mpirun and all $np ranks) ==="
kill_session "$sid" || fail "could not kill the job"
sid=""
show_new_lines
grep -q '^checksum:' "$log" && fail "the job finished before it could be killed"
echo "    killed: no checksum printed. On disk in $ckpt/crashed:"
find "$ckpt/crashed" -mindepth 1 -maxdepth 1 -printf "%f\n" | sort | indent | indent

section "5/5  Rerun of the killed job: it resumes from its newest checkpoint"
run_heat2d crashed 2>&1 | tee "$ckpt/resumed.log" | indent || fail "the resumed run failed"
grep -q '^resumed from checkpoint version' "$ckpt/resumed.log" || fail "the rerun did not resume from a checkpoint"
got=$(checksum_of "$ckpt/resumed.log")
[[ -n $got ]] || fail "the resumed run printed no checksum"

section "Result"
echo "    uninterrupted run:  checksum $expected"
echo "    killed + resumed:   checksum $got"
[[ $got == "$expected" ]] || fail "the checksums differ"
echo
echo "demo: PASS — the resumed run matches the uninterrupted run"
