#!/usr/bin/env bash
# One crash-consistency case: run crash_writer with LAZARUS_FAULT killing one rank at one point of
# version 3's checkpoint, check that the job really died there, then restore with a fresh job and
# check the restored version is one of the acceptable ones, with every rank's data from that version.
# usage: crash_case.sh MPIEXEC CRASH_WRITER POINT RANK ACCEPTABLE_VERSION...
set -euo pipefail
mpiexec=$1 writer=$2 point=$3 rank=$4
shift 4
acceptable=("$@")
work=$(mktemp -d "${TMPDIR:-/tmp}/lazarus-crash-XXXXXX")
trap 'rm -rf "$work"' EXIT
# A killed job cannot remove its Open MPI shared-memory segments: keep them in $work, not /dev/shm.
export OMPI_MCA_btl_vader_backing_directory=$work

set +e
LAZARUS_FAULT="$point,rank=$rank,version=3" "$mpiexec" -n 4 "$writer" write "$work" >"$work/write.log" 2>&1
write_status=$?
set -e
cat "$work/write.log"
if [ "$write_status" -eq 0 ]; then
  echo "FAIL: the job survived LAZARUS_FAULT=$point (rank $rank); the fault was not injected" >&2
  exit 1
fi
grep -q "rank $rank killing itself at $point of version 3" "$work/write.log" ||
  { echo "FAIL: rank $rank did not die at $point" >&2; exit 1; }
if pgrep -f "$writer write $work" >/dev/null; then
  echo "FAIL: processes of the crashed job are still running" >&2
  exit 1
fi
echo "--- on disk after the crash:"
find "$work/crash" -maxdepth 2 | sort

"$mpiexec" -n 4 "$writer" check "$work" "${acceptable[@]}"
echo "PASS: crash at $point on rank $rank restored one of: ${acceptable[*]}"
