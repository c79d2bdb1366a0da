#!/usr/bin/env bash
# The read-only checkpoint commands (`lazarus list`, `verify`, `inspect`) on real checkpoints.
#   checkpoint_commands_test.sh write CHECKPOINTS MPIEXEC CRASH_WRITER   the fixture: versions 1-3 of job
#                                                                        "crash", 4 ranks, in CHECKPOINTS
#   checkpoint_commands_test.sh CASE CHECKPOINTS LAZARUS                 one case, on a copy of CHECKPOINTS
set -uo pipefail
case_name=$1 checkpoints=$2

fail() {
  echo "FAIL ($case_name): $*" >&2
  echo "--- output of: ${last_command:-}" >&2
  printf '%s\n' "${out:-}" >&2
  exit 1
}

if [ "$case_name" = write ]; then
  mpiexec=$3 writer=$4
  rm -rf "$checkpoints" && mkdir -p "$checkpoints" || exit 1
  "$mpiexec" -n 4 "$writer" write "$checkpoints" || { echo "FAIL: crash_writer could not write" >&2; exit 1; }
  for v in 1 2 3; do
    [ -f "$checkpoints/crash/v000000000$v/manifest.json" ] || { echo "FAIL: version $v is not complete" >&2; exit 1; }
  done
  echo "PASS: wrote versions 1-3 of job crash"
  exit 0
fi

lazarus=$3
[ -f "$checkpoints/crash/v0000000003/manifest.json" ] || { echo "FAIL: the fixture's checkpoints are missing" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/lazarus-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$checkpoints/." "$work/"
job="$work/crash"

# Runs the command; its stdout and stderr land in $out, its exit status in $status.
run() {
  last_command="lazarus $*"
  out=$("$lazarus" "$@" 2>&1)
  status=$?
}
expect_status() { [ "$status" -eq "$1" ] || fail "exit status $status, expected $1"; }
# A line of the output matches the extended regular expression.
expect_line() { grep -Eq -- "$1" <<<"$out" || fail "no line matches /$1/"; }
expect_no_line() { ! grep -Eq -- "$1" <<<"$out" || fail "a line matches /$1/"; }

flip_byte() {  # flips every bit of the byte in the middle of the file
  local file=$1 size offset byte
  size=$(stat -c %s "$file")
  offset=$((size / 2))
  byte=$(od -An -tu1 -j "$offset" -N1 "$file" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
  [ "$(od -An -tu1 -j "$offset" -N1 "$file" | tr -d ' ')" -ne "$byte" ] || fail "could not flip a byte of $file"
}

case "$case_name" in
  list_shows_versions_1_to_3_complete_with_4_ranks)
    run list "$work"  # the only job under the root is picked
    expect_status 0
    for v in 1 2 3; do expect_line "^ *$v +complete +4 +[0-9.]+ (B|KiB|MiB) +[0-9.]+ (B|KiB|MiB) +[0-9.]+x +[0-9-]+T[0-9:]+ +field$"; done
    expect_no_line "^ *4 "
    ;;

  list_accepts_the_job_folder_and_job_option)
    run list "$job"
    expect_status 0
    expect_line "^ *3 +complete +4 "
    run list "$work" --job crash
    expect_status 0
    expect_line "^ *3 +complete +4 "
    run list "$work" --job nope
    expect_status 2
    expect_line "no job 'nope'.*crash"
    ;;

  list_shows_incomplete_set_aside_and_invalid_versions)
    echo '{"format": "lazarus-checkpoint-manifest"' >"$job/v0000000001/manifest.json"   # cut short
    mv "$job/v0000000002/manifest.json" "$job/v0000000002/manifest.corrupt"                # set aside
    rm "$job/v0000000003/manifest.json"                                                    # never committed
    mkdir "$job/v0000000004" && head -c 4096 "$job/v0000000003/rank-00000.h5" >"$job/v0000000004/rank-00000.h5"
    run list "$work"
    expect_status 0
    expect_line "^ *1 +invalid-manifest "
    expect_line "^ *2 +set-aside +4 "
    expect_line "^ *3 +incomplete +\(4 files\) "
    expect_line "^ *4 +incomplete +\(1 file\) "
    expect_line "^version 1: .*manifest.json"
    run verify "$work"  # no complete version is left but the invalid one
    expect_status 1
    expect_line "^version 1: DAMAGED"
    expect_line "not verified .*versions 2, 3, 4"
    run verify "$work" --version 2  # a set-aside version is checked against manifest.corrupt
    expect_status 0
    expect_line "^version 2 \(set aside\): intact \(4 ranks"
    run verify "$work" --version 3
    expect_status 2
    expect_line "incomplete"
    ;;

  verify_passes_intact_versions)
    run verify "$work"
    expect_status 0
    expect_line "^version 3: intact \(4 ranks, [0-9.]+ MiB checked\)$"
    expect_line "^version 2: intact \(4 ranks"
    expect_line "^version 1: intact \(4 ranks"
    [ "$(head -n1 <<<"$out")" = "$(grep '^version 3' <<<"$out")" ] || fail "newest version not first"
    run verify "$work" --version 2
    expect_status 0
    expect_line "^version 2: intact"
    expect_no_line "^version [13]"
    ;;

  verify_names_the_file_with_a_flipped_byte)
    flip_byte "$job/v0000000003/rank-00002.h5"
    run verify "$work"
    expect_status 1
    expect_line "^version 3: DAMAGED$"
    expect_line "^  .*v0000000003/rank-00002.h5.*checksum mismatch"
    expect_line "^  region 'field' in .*rank-00002.h5"
    expect_no_line "rank-0000[013].h5"
    expect_line "^version 2: intact"
    expect_line "^version 1: intact"
    run verify "$work" --version 3
    expect_status 1
    run verify "$work" --version 2
    expect_status 0
    ;;

  verify_reports_a_truncated_file)
    file="$job/v0000000003/rank-00001.h5"
    truncate -s $(($(stat -c %s "$file") - 1000)) "$file"
    run verify "$work" --version 3
    expect_status 1
    expect_line "^version 3: DAMAGED$"
    expect_line "rank-00001.h5 is [0-9]+ bytes but the manifest records [0-9]+ \(truncated"
    ;;

  verify_reports_a_missing_file)
    rm "$job/v0000000002/rank-00003.h5"
    run verify "$work" --version 2
    expect_status 1
    expect_line "rank-00003.h5 is missing"
    ;;

  inspect_shows_a_rank_file)
    run inspect "$job/v0000000003/rank-00002.h5"
    expect_status 0
    expect_line "^  job +crash$"
    expect_line "^  version +3$"
    expect_line "^  rank +2 of 4$"
    expect_line "^field +f64 +\[300000\] +2\.3 MiB +[0-9.]+ (KiB|MiB) +[0-9.]+x +chunked \[[0-9]+\] +shuffle\+zstd\([0-9]+\) +[0-9a-f]{16}$"
    ;;

  inspect_shows_a_version_folder)
    run inspect "$job/v0000000003/"
    expect_status 0
    expect_line "version 3, complete"
    expect_line "^  ranks +4$"
    expect_line "^  field +f64 +\[300000\] +4 +9\.2 MiB .*shuffle\+zstd"
    for r in 0 1 2 3; do expect_line "^ +$r +rank-0000$r.h5 .* readable$"; done
    mkdir "$job/v0000000009"
    run inspect "$job/v0000000009"
    expect_status 0
    expect_line "version 9, incomplete"
    ;;

  bad_targets_exit_2)
    run list "$work/does-not-exist"
    expect_status 2
    expect_line "^lazarus: .*does-not-exist does not exist"
    run verify "$work/does-not-exist"
    expect_status 2
    run verify "$work" --version 7
    expect_status 2
    expect_line "version 7 does not exist"
    run verify "$work" --version 0
    expect_status 2
    expect_line "'0' is out of range: it must be 1 to 999999999999999999"
    # Issue 13, item 15: -1 and numbers past 2^64 became version 18446744073709551615; a 300-digit
    # number is shown cut, with the range.
    run verify "$work" --version -1
    expect_status 2
    expect_line "'-1' is out of range: it must be 1 to 999999999999999999"
    run verify "$work" --version "$(printf '9%.0s' {1..300})"
    expect_status 2
    expect_line "^--version: '9{40}\.\.\.' \(300 characters\) is out of range: it must be 1 to 999999999999999999"
    expect_no_line "9{41}"
    mkdir "$work/empty"
    run list "$work/empty"
    expect_status 2
    expect_line "holds no checkpoints"
    run inspect "$work/does-not-exist.h5"
    expect_status 2
    echo "not hdf5" >"$work/text.h5"
    run inspect "$work/text.h5"
    expect_status 2
    expect_line "not a Lazarus checkpoint file"
    run inspect "$work"
    expect_status 2
    expect_line "not a version folder"
    ;;

  *)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
echo "PASS: $case_name"
