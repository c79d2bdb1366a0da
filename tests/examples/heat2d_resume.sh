#!/usr/bin/env bash
# examples.heat2d_resume: a heat2d job killed with SIGKILL part way, then rerun, must resume from its
# newest checkpoint and end with the same checksum as an uninterrupted run of the same job.
#
# Usage: heat2d_resume.sh HEAT2D MPIEXEC [NP]
# Open MPI's root/oversubscribe variables come from the ctest environment (LAZARUS_TEST_ENV).
set -euo pipefail

heat2d=${1:?usage: heat2d_resume.sh HEAT2D MPIEXEC [NP]}
mpiexec=${2:?usage: heat2d_resume.sh HEAT2D MPIEXEC [NP]}
np=${3:-4}
steps=4000
# Small enough to take a few seconds, long enough that the kill (after the second of nine
# checkpoints) lands well before the end.
args=(--n 384 --steps "$steps" --checkpoint-every 400 --job resume)
kill_after=2

work=$(mktemp -d "${TMPDIR:-/tmp}/heat2d_resume.XXXXXX")
# A killed job cannot remove its Open MPI shared-memory segments: keep them in $work, not /dev/shm.
export OMPI_MCA_btl_vader_backing_directory=$work
sid=""  # session of the job being killed, while it may still have processes

fail() {
  echo "heat2d_resume: FAIL: $*" >&2
  exit 1
}

# shellcheck source=../../scripts/lib/job_control.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/job_control.sh"

cleanup() {
  local status=$?
  if [[ -n $sid ]]; then kill_session "$sid" || status=1; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Runs heat2d to completion: run DIR LOG (checkpoint root $work/DIR, output $work/LOG).
run() {
  if ! "$mpiexec" -n "$np" "$heat2d" "${args[@]}" --dir "$work/$1" >"$work/$2" 2>&1; then
    cat "$work/$2" >&2
    fail "heat2d (checkpoints in $1, output $2) exited with an error"
  fi
}

# The one `checksum: <16 hex>` line of a log, or fail.
checksum_of() {
  local log=$1 lines
  lines=$(grep -E '^checksum: [0-9a-f]{16}$' "$log" || true)
  [[ $(grep -c . <<<"$lines") -eq 1 && -n $lines ]] || { cat "$log" >&2; fail "$log: expected exactly one checksum line"; }
  echo "${lines#checksum: }"
}

echo "--- 1. uninterrupted run"
run clean clean.log
cat "$work/clean.log"
expected=$(checksum_of "$work/clean.log")

echo "--- 2. run killed with SIGKILL after checkpoint version $kill_after"
# setsid gives the job a session (and process group) of its own; the inner shell reports its id,
# which mpirun inherits through exec. -w keeps $! alive until the job ends; disown spares the log a
# "Killed" notice (the missing checksum line tells that it did not finish).
# shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
setsid -w bash -c 'echo $$ >"$0"; exec "$@"' "$work/sid" \
  "$mpiexec" -n "$np" "$heat2d" "${args[@]}" --dir "$work/killed" >"$work/killed.log" 2>&1 &
job=$!
disown "$job"
deadline=$((SECONDS + 90))
until [[ -s $work/sid ]] && grep -q "^checkpoint version $kill_after at step" "$work/killed.log"; do
  if ! kill -0 "$job" 2>/dev/null; then
    cat "$work/killed.log" >&2
    fail "heat2d ended before checkpoint version $kill_after"
  fi
  ((SECONDS < deadline)) || fail "no checkpoint line within 90 s"
  sleep 0.02
done
sid=$(<"$work/sid")
kill_session "$sid" || fail "could not kill the job"
sid=""
cat "$work/killed.log"
! grep -q '^checksum:' "$work/killed.log" || fail "the job printed its checksum before the kill (raise --steps)"
last=$(grep -E '^checkpoint version [0-9]+ at step [0-9]+$' "$work/killed.log" | tail -n 1)
[[ -n $last ]] || fail "the killed run printed no well-formed checkpoint line"
read -r _ _ last_version _ _ last_step <<<"$last"
echo "--- killed after checkpoint version $last_version (step $last_step)"

echo "--- 3. rerun of the killed job"
run killed rerun.log
cat "$work/rerun.log"
resumed=$(grep -E '^resumed from checkpoint version [0-9]+ at step [0-9]+$' "$work/rerun.log" || true)
[[ -n $resumed ]] || fail "the rerun did not print 'resumed from checkpoint version V at step S'"
read -r _ _ _ _ version _ _ step <<<"$resumed"
# A checkpoint may commit after its line was last printed, never before: the rerun must start from
# the version seen (or a newer one) and still have work to do.
((version >= last_version)) || fail "resumed from version $version, older than version $last_version"
((step >= last_step && step > 0 && step < steps)) || fail "resumed at step $step, expected $last_step..$((steps - 1))"
grep -qE "^done: $((steps - step)) steps in this run \($step to $steps\)" "$work/rerun.log" ||
  fail "the rerun did not run exactly steps $step..$steps"
got=$(checksum_of "$work/rerun.log")

echo "--- uninterrupted: $expected  resumed: $got"
[[ $got == "$expected" ]] || fail "checksum mismatch: resumed run $got, uninterrupted run $expected"
echo "heat2d_resume: PASS"
