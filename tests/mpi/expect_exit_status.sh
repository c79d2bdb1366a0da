#!/usr/bin/env bash
# Runs COMMAND; passes when it exits with STATUS and its output (stdout and stderr) holds every
# PATTERN (fixed strings). Prints the output either way.
# Usage: expect_exit_status.sh STATUS PATTERN... -- COMMAND...
set -uo pipefail
expected=$1
shift
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  patterns+=("$1")
  shift
done
shift  # --
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
failed=0
if [ "$status" -ne "$expected" ]; then
  echo "expect_exit_status: exit status $status, expected $expected" >&2
  failed=1
fi
for pattern in "${patterns[@]}"; do
  if ! grep -qF -- "$pattern" <<<"$output"; then
    echo "expect_exit_status: the output lacks: $pattern" >&2
    failed=1
  fi
done
exit "$failed"
