#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Lazarus needs to build, test and run its demo, skipping apt
# entirely when everything is already there. Works on Debian 12 and Ubuntu 24.04, as root or via sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git procps
  libopenmpi-dev openmpi-bin                 # MPI
  libhdf5-dev libhdf5-openmpi-dev hdf5-tools # serial + parallel HDF5, h5dump
  libzstd-dev libxxhash-dev                  # compression, checksums
  nlohmann-json3-dev libfmt-dev libcli11-dev # manifest JSON, messages, command lines
  libgtest-dev                               # tests
  clang libclang-rt-dev                      # fuzz targets: libFuzzer and the sanitizers' runtimes
  python3 python3-h5py python3-numpy         # interoperability tests read checkpoints with h5py
  slurm-wlm munge                            # the Slurm tests run a small Slurm cluster on this machine
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
