#!/usr/bin/env bash
# The test command of the README and of CI (.ci/run). Installs dependencies,
# then runs these legs in order, each in its own build directory under
# build-ci/, building its configuration once:
#
#   plain     RelWithDebInfo, shared libraries, warnings as errors: build
#             everything, run every test (the package test covers the shared install)
#   sanitize  AddressSanitizer + UndefinedBehaviorSanitizer, static: the library
#             and tests only, run every test
#   tsan      ThreadSanitizer, fiber switches annotated: the library and tests
#             only, run every test
#   release   Release, static, warnings as errors: build everything, run every
#             test (the package test covers the static install)
#   fuzz      each fuzz target for 60 s over its seed corpus (scripts/fuzz.sh)
#
#   scripts/test.sh [LEG...]    default: every leg, in the order above
#
# Prints each leg's wall and CPU time. Safe to repeat. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=2
root=build-ci
mkdir -p "$root"
passed=0
failed=0

# Runs ctest in build dir $1 with the remaining arguments (through $launcher
# if set), and adds its counts.
run_tests() {
  local dir=$1
  shift
  local log=$dir/ctest.log status=0
  ${launcher:-} ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log" || status=$?
  local summary
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$summary" ]; then
    local total bad
    bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  fi
  return "$status"
}

configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
}

leg_plain() {
  configure "$root/plain" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_SHARED_LIBS=ON \
    -DSTARHOLD_WERROR=ON
  cmake --build "$root/plain" -j"$jobs"
  run_tests "$root/plain" --timeout 900
}

leg_sanitize() {
  configure "$root/sanitize" -DCMAKE_BUILD_TYPE=Debug -DSTARHOLD_SANITIZE=ON \
    -DSTARHOLD_WERROR=ON -DSTARHOLD_BUILD_BENCHMARKS=OFF -DSTARHOLD_BUILD_EXAMPLES=OFF
  cmake --build "$root/sanitize" -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_tests "$root/sanitize" --timeout 1800
}

leg_tsan() {
  # Fiber switches are annotated for ThreadSanitizer (src/task/tsan_fibers.hpp),
  # so attempts run on their fibers as in every other build. setarch -R: the
  # sanitizer's fixed memory layout does not fit every randomized one.
  configure "$root/tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARHOLD_TSAN=ON \
    -DSTARHOLD_WERROR=ON -DSTARHOLD_BUILD_BENCHMARKS=OFF -DSTARHOLD_BUILD_EXAMPLES=OFF
  cmake --build "$root/tsan" -j"$jobs"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
    launcher="setarch $(uname -m) -R" run_tests "$root/tsan" --timeout 1800
}

leg_release() {
  configure "$root/release" -DCMAKE_BUILD_TYPE=Release -DSTARHOLD_WERROR=ON
  cmake --build "$root/release" -j"$jobs"
  run_tests "$root/release" --timeout 900
}

leg_fuzz() {
  STARHOLD_FUZZ_BUILD="$root/fuzz" scripts/fuzz.sh 60
}

legs=("$@")
if [ ${#legs[@]} -eq 0 ]; then legs=(plain sanitize tsan release fuzz); fi
times=()
for leg in "${legs[@]}"; do
  if ! declare -F "leg_$leg" >/dev/null; then
    echo "unknown leg '$leg': choose from plain sanitize tsan release fuzz" >&2
    exit 2
  fi
  echo "==== $leg"
  start=$SECONDS
  TIMEFORMAT="==== $leg: %0R s wall, %0U s user, %0S s system"
  time "leg_$leg"
  times+=("$leg $((SECONDS - start))s")
done
echo "==== times: ${times[*]}"
echo "tests: $passed passed, $failed failed"
