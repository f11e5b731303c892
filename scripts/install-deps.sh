#!/usr/bin/env bash
# Installs the Debian packages Starhold builds with. Safe to repeat: it does
# nothing when every package is already installed. Run as root (or via sudo).
#   scripts/install-deps.sh          what the library, tests and examples need
#   scripts/install-deps.sh --fuzz   also what the fuzz targets need (scripts/fuzz.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  liblmdb-dev            # the object store
  libboost-dev           # Asio, Beast (header-only parts of Boost)
  libboost-context-dev   # fibers for task attempts
  libfmt-dev             # formatting and logs
  libssl-dev             # TLS and password hashing
  libtomlplusplus-dev    # server options from TOML files
  catch2                 # tests (Catch2 v2)
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(
    clang-14               # the fuzz targets: libFuzzer needs clang
    libclang-rt-14-dev     # libFuzzer and the sanitizer run-times for clang
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
