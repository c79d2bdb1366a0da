#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2086  # subset probes split into h5dump arguments on purpose
# interop.h5dump: the stock h5dump reads a Lazarus checkpoint (written by write_known_checkpoint) once
# HDF5_PLUGIN_PATH names the Lazarus zstd filter plugin, and prints the exact values written; without
# the plugin it cannot, which shows the data really pass through filter 32015.
# Usage: check_h5dump.sh <h5dump> <checkpoint-dir> <plugin-dir> <scratch-dir>
set -u -o pipefail
[ $# -eq 4 ] || { echo "usage: $0 <h5dump> <checkpoint-dir> <plugin-dir> <scratch-dir>" >&2; exit 2; }
h5dump=$1 dir=$2 plugin_dir=$3 scratch=$4

failures=0
fail() { echo "FAIL interop.h5dump: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL interop.h5dump: $*" >&2; exit 1; }

[ -d "$plugin_dir" ] && ls "$plugin_dir"/*.so >/dev/null 2>&1 || die "no filter plugin in $plugin_dir"
# <dir>/<job>/v<10 digits>/rank-<5 digits>.h5, one version only (the writer starts afresh).
versions=("$dir"/interop/v[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
[ ${#versions[@]} -eq 1 ] && [ -d "${versions[0]}" ] \
  || die "expected exactly one version folder $dir/interop/v<10 digits>, found: $(ls "$dir/interop" 2>&1)"
vdir=${versions[0]}
empty_plugins=$scratch/no-plugins
rm -rf "$empty_plugins" && mkdir -p "$empty_plugins" || die "cannot create $empty_plugins"

# The DATA block of one h5dump run on stdout, as one comma-separated line without spaces. h5dump's own
# error stream goes to $scratch/h5dump.err.
data_of() {  # data_of <plugin-path|-> <file> <h5dump args...>
  local plugins=$1 file=$2
  shift 2
  local env_args=(-u HDF5_PLUGIN_PATH)
  [ "$plugins" = - ] || env_args=("HDF5_PLUGIN_PATH=$plugins")
  env "${env_args[@]}" "$h5dump" -y -w0 -m %.17g "$@" "$file" 2>"$scratch/h5dump.err" \
    | awk '/^ *DATA \{/ {on = 1; next} on && /^ *\}/ {exit} on {printf "%s", $0}' | tr -d ' '
}

# expect <file> <expected> <dataset> [subset args]: the plugin-enabled dump shows exactly <expected>.
expect() {
  local file=$1 want=$2 dataset=$3
  shift 3
  local got
  got=$(data_of "$plugin_dir" "$file" -d "$dataset" "$@")
  if [ "$got" != "$want" ]; then
    fail "$(basename "$file") $dataset $*: h5dump printed '$got', expected '$want' ($(head -c 300 "$scratch/h5dump.err"))"
  else
    echo "ok   $(basename "$file") $dataset${*:+ $*} = $want"
  fi
}

for rank in 0 1; do
  file=$vdir/rank-0000$rank.h5
  [ -f "$file" ] || die "missing $file (contents of $vdir: $(ls "$vdir"))"
  r1=$((rank + 1)) r2=$((rank + 2))
  expect "$file" "$((7777 + rank))" /step
  expect "$file" "0.$r1""0000000000000001" /time
  expect "$file" "-128,127,$r1,-$r2" /int8 -s 0 -c 4
  expect "$file" "0,255,$r1,$((255 - rank))" /uint8 -s 0 -c 4
  expect "$file" "-32768,32767,$r1,-$r2" /int16 -s 0 -c 4
  expect "$file" "0,65535,$r1,$((65535 - rank))" /uint16 -s 0 -c 4
  expect "$file" "-2147483648,2147483647,$r1,-$r2" /int32 -s 0 -c 4
  expect "$file" "0,4294967295,$r1,$((4294967295 - rank))" /uint32 -s 0 -c 4
  expect "$file" "-9223372036854775808,9223372036854775807,$r1,-$r2" /int64 -s 0 -c 4
  expect "$file" "0,18446744073709551615,$r1,1844674407370955161$((5 - rank))" /uint64 -s 0 -c 4
  expect "$file" "-1.7976931348623157e+308,1.7976931348623157e+308,2.2250738585072014e-308,4.9406564584124654e-324,inf,-inf,-0,2.2204460492503131e-16" /float64 -s 0 -c 8
  # field[i][j] = r * 1e5 + i + j / 128, in the middle and in the last (partial) chunk row and column.
  base=$((rank * 100000))
  expect "$file" "$((base + 1)).015625,$((base + 1)).0234375,$((base + 1)).03125" /field -s 1,2 -c 1,3
  expect "$file" "$((base + 299)).5078125,$((base + 300)).5078125" /field -s 299,65 -c 2,1
  # "LAZARUS-" and, after "LAZARUS-INTEROP-RANK-<r>:", the bytes 0, 1, 2.
  expect "$file" "76,65,90,65,82,85,83,45" /blob -s 0 -c 8
  expect "$file" "$((48 + rank)),58,0,1,2" /blob -s 21 -c 5

  # Scalars are scalar dataspaces; arrays are chunked with shuffle, then zstd (32015).
  header=$(HDF5_PLUGIN_PATH=$plugin_dir "$h5dump" -p -H -d /step "$file" 2>&1)
  grep -q 'DATASPACE *SCALAR' <<<"$header" || fail "$(basename "$file") /step is not a scalar dataspace: $header"
  for dataset in /field /int8 /uint64 /float32 /blob; do
    header=$(HDF5_PLUGIN_PATH=$plugin_dir "$h5dump" -p -H -d "$dataset" "$file" 2>&1)
    shuffle_line=$(grep -n 'PREPROCESSING SHUFFLE' <<<"$header" | cut -d: -f1)
    zstd_line=$(grep -n 'FILTER_ID 32015' <<<"$header" | cut -d: -f1)
    if ! grep -q 'CHUNKED' <<<"$header" || [ -z "$shuffle_line" ] || [ -z "$zstd_line" ] \
       || [ "$shuffle_line" -ge "$zstd_line" ]; then
      fail "$(basename "$file") $dataset is not CHUNKED with SHUFFLE then filter 32015; h5dump -p -H says:"$'\n'"$header"
    else
      echo "ok   $(basename "$file") $dataset: CHUNKED, SHUFFLE then FILTER_ID 32015"
    fi
  done

  # Without the plugin (HDF5_PLUGIN_PATH an empty folder, or unset) h5dump cannot decode the chunks:
  # the values must not appear. Were they printed with the empty folder, the data would not really
  # pass through filter 32015. (Unset, HDF5 searches its default folder: a zstd plugin installed
  # there, e.g. by Debian's hdf5-filter-plugin, may decode them; that is noted, not failed.)
  for probe in "/field -s 1,2 -c 1,3" "/int64 -s 0 -c 4" "/float64 -s 0 -c 8"; do
    got=$(data_of "$empty_plugins" "$file" -d $probe)
    if [ -n "$got" ]; then
      fail "$(basename "$file") $probe: h5dump printed '$got' with HDF5_PLUGIN_PATH=$empty_plugins (empty); filter 32015 should have been unavailable"
      continue
    fi
    echo "ok   $(basename "$file") $probe: no data with an empty HDF5_PLUGIN_PATH"
    got=$(data_of - "$file" -d $probe)
    if [ -n "$got" ]; then
      echo "NOTE $(basename "$file") $probe: HDF5_PLUGIN_PATH unset, a plugin in HDF5's default folder decoded filter 32015"
    else
      echo "ok   $(basename "$file") $probe: no data with HDF5_PLUGIN_PATH unset"
    fi
  done
done

[ $failures -eq 0 ] || die "$failures check(s) failed"
echo "PASS interop.h5dump: h5dump reads both ranks' files through the Lazarus zstd plugin"
