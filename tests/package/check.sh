#!/usr/bin/env bash
# Installs the built Starhold into a temporary prefix, builds the consumer
# project against it with find_package(starhold), and runs it. Then checks that
# the package keeps its private dependencies (Boost, fmt, LMDB, OpenSSL,
# toml++) to itself:
# - the public headers include none of their headers (both builds);
# - from a shared build (BUILD_SHARED_LIBS=ON): starholdConfig.cmake asks for
#   none of those packages (they are disabled while the consumer configures),
#   the consumer links none of their libraries, and libstarhold.so exports
#   nothing declared outside the public headers.
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "package check: $*" >&2
  exit 1
}

prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
shared_lib=$(find "$prefix" -name 'libstarhold.so' -print -quit)
configure=(-DCMAKE_PREFIX_PATH="$prefix")
if [ -n "$shared_lib" ]; then
  echo "package check: shared libstarhold"
  for private in Boost fmt LMDB OpenSSL tomlplusplus; do
    configure+=(-DCMAKE_DISABLE_FIND_PACKAGE_"$private"=ON)
  done
else
  echo "package check: static libstarhold"
fi
cmake -S "$source_dir/consumer" -B "$work/build" --no-warn-unused-cli "${configure[@]}" >/dev/null
cmake --build "$work/build" -j2 >/dev/null
"$work/build/consumer" "$work/data"

private_headers='/(boost|fmt|openssl|toml\+\+)/|/lmdb\.h'
for header in "$prefix"/include/starhold/*.hpp; do
  echo "#include <starhold/$(basename "$header")>"
done >"$work/all_headers.cpp"
"${CXX:-c++}" -std=c++20 -I"$prefix/include" -M "$work/all_headers.cpp" >"$work/all_headers.d"
if grep -Eq "$private_headers" "$work/all_headers.d"; then
  fail "the public headers include a private dependency's header: $(grep -Eo "[^ ]*($private_headers)[^ ]*" "$work/all_headers.d" | head -3)"
fi

if [ -n "$shared_lib" ]; then
  private_libs='lib(fmt|lmdb|boost_context|ssl|crypto|tomlplusplus)\.so'
  if readelf -d "$work/build/consumer" | grep NEEDED | grep -Eq "$private_libs"; then
    fail "the consumer links a private dependency: $(readelf -d "$work/build/consumer" | grep NEEDED)"
  fi
  # Mangled names of functions, vtables and type data in Starhold's internal namespaces.
  internal='^_Z(T[VIS])?N[KVR]*8starhold(3net|4data|4task|7session|7channel|4core|5store)'
  exported=$(nm -D --defined-only "$shared_lib" | awk '{print $3}' | grep -E "$internal" || true)
  if [ -n "$exported" ]; then
    fail "libstarhold.so exports internal symbols: $(echo "$exported" | head -3 | c++filt)"
  fi
fi

