#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2001,SC2086  # flag strings (pkg-config, env) split on purpose
# install.consumer: installs the build tree into a scratch prefix and checks what a user gets.
#   1. `cmake --install` succeeds; the public headers, the library, the CMake package, lazarus.pc and
#      the HDF5 filter plugin are there; no internal header (runtime/, backends/) or version.hpp.in is.
#   2. Every installed header compiles on its own with only the installed include folder.
#   3. tests/install/consumer (a C++-only project) configures with find_package(lazarus) from the prefix (and no other
#      Lazarus), builds, links the installed library and round-trips a checkpoint under mpirun.
#   4. The same main.cpp builds with `pkg-config --cflags --libs lazarus` and round-trips too.
#   5. The installed `lazarus` command runs without LD_LIBRARY_PATH and lists the consumer's job.
# Each failing step says which and why, and the script exits non-zero.
set -u -o pipefail

usage() { echo "usage: $0 --build-dir D --source-dir D --work-dir D --cmake EXE --mpiexec EXE ..." >&2; exit 2; }
np_flag=-n
shared=ON
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2 ;;
    --source-dir) source_dir=$2 ;;
    --work-dir) work_dir=$2 ;;
    --cmake) cmake=$2 ;;
    --mpiexec) mpiexec=$2 ;;
    --np-flag) np_flag=$2 ;;
    --cxx) cxx=$2 ;;
    --mpicc) mpicc=$2 ;;
    --pkg-config) pkg_config=$2 ;;
    --libdir) libdir=$2 ;;
    --includedir) includedir=$2 ;;
    --plugin-dir) plugin_dir=$2 ;;
    --plugin-file) plugin_file=$2 ;;
    --version) version=$2 ;;
    --shared) shared=$2 ;;
    *) usage ;;
  esac
  shift 2 || usage
done
[ -n "$np_flag" ] || np_flag=-n
for v in build_dir source_dir work_dir cmake mpiexec cxx pkg_config libdir includedir plugin_dir \
         plugin_file version; do
  [ -n "${!v:-}" ] || { echo "check_install.sh: missing --${v//_/-}" >&2; exit 2; }
done

step() { echo; echo "=== install.consumer: $*"; }
fail() { echo "FAIL install.consumer: $*" >&2; exit 1; }
# Absolute paths as given (relative ones are under the prefix).
under_prefix() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }

prefix=$work_dir/prefix
rm -rf "$work_dir" && mkdir -p "$work_dir" || fail "cannot create the work folder $work_dir"
inc=$(under_prefix "$includedir")
lib=$(under_prefix "$libdir")
plugins=$(under_prefix "$plugin_dir")

# --- 1. cmake --install ------------------------------------------------------------------------
step "cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" >"$work_dir/install.log" 2>&1 \
  || { cat "$work_dir/install.log"; fail "cmake --install failed (is the build tree fully built?)"; }

step "checking the installed files"
expected_headers=$(cd "$source_dir/api/include/lazarus" && ls -- *.hpp; echo version.hpp)
expected_headers=$(echo "$expected_headers" | sort -u)
installed_headers=$(cd "$inc" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
[ -n "$installed_headers" ] || fail "no headers installed under $inc"
if [ "$installed_headers" != "$(echo "$expected_headers" | sed 's|^|lazarus/|')" ]; then
  echo "expected:"; echo "$expected_headers" | sed 's|^|  lazarus/|'
  echo "installed under $inc:"; echo "$installed_headers" | sed 's|^|  |'
  fail "the installed headers are not exactly api/include/lazarus/*.hpp plus the generated version.hpp"
fi
grep -q '#define LAZARUS_VERSION_STRING "'"$version"'"' "$inc/lazarus/version.hpp" \
  || fail "$inc/lazarus/version.hpp is not the generated header of version $version"
internal=$(find "$prefix" \( -path '*/runtime/*' -o -path '*/backends/*' -o -name '*.in' \) -print)
[ -z "$internal" ] || fail "internal files were installed: $internal"

if [ "$shared" = ON ]; then
  [ -f "$lib/liblazarus.so.$version" ] || fail "$lib/liblazarus.so.$version is missing"
  [ -L "$lib/liblazarus.so" ] || fail "the development link $lib/liblazarus.so is missing"
else
  [ -f "$lib/liblazarus.a" ] || fail "$lib/liblazarus.a is missing"
fi
for f in "$lib/cmake/lazarus/lazarusConfig.cmake" "$lib/cmake/lazarus/lazarusConfigVersion.cmake" \
         "$lib/cmake/lazarus/lazarusTargets.cmake" "$lib/pkgconfig/lazarus.pc" "$plugins/$plugin_file"; do
  [ -f "$f" ] || fail "$f is missing"
done
echo "headers, library, CMake package, lazarus.pc and $plugin_dir/$plugin_file are installed"

# --- 2. the installed headers stand alone ----------------------------------------------------------
step "compiling every installed header on its own"
export PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc_cflags=$("$pkg_config" --cflags lazarus) || fail "pkg-config --cflags lazarus failed"
for h in $expected_headers; do
  printf '#include <lazarus/%s>\n' "$h" \
    | "$cxx" -std=c++20 -fsyntax-only $pc_cflags -x c++ - \
    || fail "<lazarus/$h> does not compile with only the installed headers ($pc_cflags)"
done
echo "all $(echo "$expected_headers" | wc -l) headers compile alone"

# Which liblazarus a program loads: it must be the installed one.
check_loads_installed() {
  local exe=$1 env_prefix=$2 loaded
  loaded=$(env $env_prefix ldd "$exe" | awk '/liblazarus/ {print $3}')
  [ -n "$loaded" ] || { [ "$shared" != ON ] && return 0; fail "$exe does not load liblazarus"; }
  [ "$(readlink -f "$loaded")" = "$(readlink -f "$lib/liblazarus.so.$version")" ] \
    || fail "$exe loads $loaded instead of the installed $lib/liblazarus.so.$version"
}
run_round_trip() {
  local what=$1 exe=$2 env_prefix=$3
  env $env_prefix "$mpiexec" $np_flag 2 "$exe" "$work_dir/ckpt-$what" \
    || fail "the $what consumer failed its checkpoint/restore round trip under $mpiexec $np_flag 2"
  ls -d "$work_dir/ckpt-$what/consumer/"v* >/dev/null 2>&1 \
    || fail "the $what consumer wrote no version folder under $work_dir/ckpt-$what/consumer"
}

# --- 3. find_package(lazarus) --------------------------------------------------------------------
step "find_package(lazarus): configuring tests/install/consumer"
consumer_build=$work_dir/consumer-cmake
mpi_hint=()
[ -n "${mpicc:-}" ] && mpi_hint=("-DMPI_C_COMPILER=$mpicc")
"$cmake" -S "$source_dir/tests/install/consumer" -B "$consumer_build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${mpi_hint[@]}" >"$work_dir/consumer-configure.log" 2>&1 \
  || { cat "$work_dir/consumer-configure.log"; fail "the consumer project does not configure against $prefix"; }
found_dir=$(sed -n 's/^-- consumer: lazarus_DIR=//p' "$work_dir/consumer-configure.log")
[ "$(readlink -f "$found_dir")" = "$(readlink -f "$lib/cmake/lazarus")" ] \
  || fail "find_package(lazarus) used '$found_dir', not the installed $lib/cmake/lazarus"
found_plugins=$(sed -n 's/^-- consumer: lazarus_HDF5_PLUGIN_DIR=//p' "$work_dir/consumer-configure.log")
[ "$(readlink -f "$found_plugins")" = "$(readlink -f "$plugins")" ] \
  || fail "lazarus_HDF5_PLUGIN_DIR is '$found_plugins', not $plugins"

step "find_package(lazarus): building"
"$cmake" --build "$consumer_build" >"$work_dir/consumer-build.log" 2>&1 \
  || { cat "$work_dir/consumer-build.log"; fail "the consumer project does not build against $prefix"; }
step "find_package(lazarus): running under mpirun (no LD_LIBRARY_PATH: the build RPATH finds it)"
check_loads_installed "$consumer_build/lazarus_consumer" "-u LD_LIBRARY_PATH"
run_round_trip cmake "$consumer_build/lazarus_consumer" "-u LD_LIBRARY_PATH"

# --- 4. pkg-config -------------------------------------------------------------------------------
step "pkg-config: lazarus.pc"
pc_version=$("$pkg_config" --modversion lazarus) || fail "pkg-config does not find lazarus.pc in $lib/pkgconfig"
[ "$pc_version" = "$version" ] || fail "lazarus.pc says version '$pc_version', expected $version"
pc_plugins=$("$pkg_config" --variable=hdf5_plugin_dir lazarus)
[ "$(readlink -f "$pc_plugins")" = "$(readlink -f "$plugins")" ] \
  || fail "lazarus.pc hdf5_plugin_dir is '$pc_plugins', not $plugins"
pc_static=()
[ "$shared" = ON ] || pc_static=(--static)
pc_flags=$("$pkg_config" "${pc_static[@]}" --cflags --libs lazarus) \
  || fail "pkg-config --cflags --libs lazarus failed"
echo "pkg-config --cflags --libs lazarus: $pc_flags"
step "pkg-config: $cxx -std=c++20 main.cpp \$(pkg-config --cflags --libs lazarus)"
pc_exe=$work_dir/consumer-pkg-config
"$cxx" -std=c++20 "$source_dir/tests/install/consumer/main.cpp" -o "$pc_exe" $pc_flags \
  || fail "main.cpp does not build with the flags of lazarus.pc: $pc_flags"
step "pkg-config: running under mpirun (LD_LIBRARY_PATH=$lib, as for any library outside the system path)"
check_loads_installed "$pc_exe" "LD_LIBRARY_PATH=$lib"
run_round_trip pkg-config "$pc_exe" "LD_LIBRARY_PATH=$lib"

# --- 5. the installed command -----------------------------------------------------------------------
step "$prefix/bin/lazarus list, with no LD_LIBRARY_PATH (its install RPATH finds liblazarus)"
env -u LD_LIBRARY_PATH "$prefix/bin/lazarus" list "$work_dir/ckpt-cmake" >"$work_dir/list.log" 2>&1 \
  || { cat "$work_dir/list.log"; fail "the installed lazarus command does not run without LD_LIBRARY_PATH"; }
grep -q consumer "$work_dir/list.log" || { cat "$work_dir/list.log"; fail "lazarus list does not show the consumer job"; }

echo
echo "PASS install.consumer: installed into $prefix; find_package and pkg-config consumers both round-trip"
