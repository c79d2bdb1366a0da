#!/usr/bin/env bash
# Runs a command in a mount namespace of its own, with a 12 MiB tmpfs at LAZARUS_TEST_SMALL_FS, so
# that a full file system can be tested without touching the host's. Needs root (or CAP_SYS_ADMIN);
# exits 77 (ctest: skipped, with the reason) where the mount is not permitted.
# Usage: with_small_fs.sh COMMAND...
set -euo pipefail
if [ "${LAZARUS_IN_SMALL_FS:-}" != 1 ]; then
  if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "skipped: mounting a small tmpfs needs root (unshare --mount failed)" >&2
    exit 77
  fi
  exec unshare --mount --propagation private env LAZARUS_IN_SMALL_FS=1 bash "$0" "$@"
fi
export LAZARUS_TEST_SMALL_FS=$(mktemp -d /tmp/lazarus-small-fs-XXXXXX)
trap 'umount "$LAZARUS_TEST_SMALL_FS" 2>/dev/null; rmdir "$LAZARUS_TEST_SMALL_FS"' EXIT
mount -t tmpfs -o size=12m lazarus-small-fs "$LAZARUS_TEST_SMALL_FS"
"$@"
