#!/usr/bin/env bash
# Multi-level: SIGKILL a rank while it copies version 3 to the global level in the background.
# The global level must keep version 2 as its newest complete version (version 3 stays incomplete
# there), and the restart must restore version 3 from the node-local level. A restart that ends
# without a new checkpoint must still leave version 3 complete at the global level (the Session's end).
# usage: flush_crash_case.sh MPIEXEC CRASH_WRITER
set -euo pipefail
mpiexec=$1 writer=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/lazarus-flush-crash-XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_MCA_btl_vader_backing_directory=$work
export LAZARUS_LOCAL_DIR=$work/local LAZARUS_FLUSH_EVERY=1

set +e
LAZARUS_FAULT="during_flush,rank=1,version=3" "$mpiexec" -n 4 "$writer" write "$work" >"$work/write.log" 2>&1
write_status=$?
set -e
cat "$work/write.log"
[ "$write_status" -ne 0 ] || { echo "FAIL: the job survived the fault" >&2; exit 1; }
grep -q "rank 1 killing itself at during_flush of version 3" "$work/write.log" ||
  { echo "FAIL: rank 1 did not die while copying version 3" >&2; exit 1; }
echo "--- global level after the crash:"
find "$work/crash" -maxdepth 2 | sort
[ -f "$work/crash/v0000000002/manifest.json" ] || { echo "FAIL: global version 2 is not complete" >&2; exit 1; }
[ ! -e "$work/crash/v0000000003/manifest.json" ] || { echo "FAIL: global version 3 claims completeness" >&2; exit 1; }
[ -f "$work/crash/v0000000003/rank-00001.h5" ] || { echo "FAIL: the crash came before rank 1's copy" >&2; exit 1; }
[ -f "$work/local/crash/v0000000003/manifest.json" ] || { echo "FAIL: local version 3 is not complete" >&2; exit 1; }

# A restart that restores version 3 from the nodes and ends at once: its Session's end copies version 3.
"$mpiexec" -n 4 "$writer" restore "$work" 3
[ -f "$work/crash/v0000000003/manifest.json" ] ||
  { echo "FAIL: the restored version 3 did not reach the global level when the Session ended" >&2; exit 1; }

"$mpiexec" -n 4 "$writer" check "$work" 3
echo "PASS: crash during the flush of version 3 left global version 2; the restart restored version 3 and copied it"
