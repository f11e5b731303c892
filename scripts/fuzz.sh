#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) in
# build-fuzz/ (or $STARHOLD_FUZZ_BUILD) and runs each over its seed corpus
# (fuzz/corpus/<target>) for SECONDS seconds. Inputs the fuzzer finds go to
# <build>/corpus/<target>, never into the tree. A crash leaves its input in
# <build>/artifacts/ and makes the script fail. Safe to repeat.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds, every target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${STARHOLD_FUZZ_BUILD:-build-fuzz}
scripts/install-deps.sh --fuzz

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSTARHOLD_FUZZ=ON -DSTARHOLD_WERROR=ON -DSTARHOLD_BUILD_TESTS=OFF \
  -DSTARHOLD_BUILD_EXAMPLES=OFF -DSTARHOLD_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
mkdir -p "$build/artifacts"
for target in "${targets[@]}"; do
  found=$build/corpus/$target
  mkdir -p "$found"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$build/artifacts/$target-")
  if [ -f "fuzz/dict/$target.dict" ]; then options+=(-dict="fuzz/dict/$target.dict"); fi
  log=$build/$target.log
  echo "fuzz: $target for ${seconds}s"
  if ! UBSAN_OPTIONS=print_stacktrace=1 "$build/fuzz/fuzz_$target" "${options[@]}" \
    "$found" "fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target failed; its input is in $build/artifacts/ (log: $log)" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' "$log" |
    sed "s/^/fuzz: $target /"
done
echo "fuzz: no target crashed"
