#!/usr/bin/env bash
# Installs dependencies, builds Starhold and runs the whole test suite twice:
# an optimised build, then an AddressSanitizer + UndefinedBehaviorSanitizer
# build. Safe to repeat. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900

cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DSTARHOLD_SANITIZE=ON \
  -DSTARHOLD_BUILD_BENCHMARKS=OFF -DSTARHOLD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-sanitize -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure -j"$jobs" --timeout 1800
echo "all tests passed"
