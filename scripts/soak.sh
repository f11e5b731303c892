#!/usr/bin/env bash
# Soak test, outside the test suite: runs a loaded server (the test helper's
# bank load: transfers, and one-shot durable tasks due within milliseconds),
# kills it with SIGKILL at a random moment, restarts a checker on the store
# that audits every invariant against everything the killed servers reported,
# and does it again, KILLS times. Stops at the first violation.
#
#   scripts/soak.sh [KILLS]    (default 100)
#
# Environment:
#   BUILD_DIR    build directory (default: build; configured if missing)
#   MAX_RUN_MS   longest a loaded server lives before its kill (default 2000)
#   CLIENTS      threads submitting transfers, 32 in flight each (default 1;
#                each check audits every receipt so far, so more load makes
#                later checks slower)
#   SEED         seed of the kill times (default: from the clock)
#   POWER_LOSS=1 run each server under the disk simulator and, after each
#                kill, keep only what a power loss would have left
#   KEEP=1       keep the store and logs (printed at the end)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
kills=${1:-100}
max_run_ms=${MAX_RUN_MS:-2000}
seed=${SEED:-$(date +%s)}
power_loss=${POWER_LOSS:-0}
clients=${CLIENTS:-1}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j2 --target starhold_test_helper starhold_disk_simulator >/dev/null
helper=$build/tests/starhold_test_helper
simulator=$build/tests/libstarhold_disk_simulator.so

work=$(mktemp -d "${TMPDIR:-/tmp}/starhold-soak-XXXXXX")
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
store=$work/world
log=$work/reported.log # every complete line of every loaded run
: >"$log"

RANDOM=$seed
started=$(date +%s%N)
checks=0
commits_checked=0
marks_after_restart=0 # marks due at a kill that ran after the restart
echo "soak: $kills kills, each within $max_run_ms ms, seed $seed, power loss $power_loss"
for ((kill = 1; kill <= kills; kill++)); do
  run_log=$work/run.log
  sim_env=()
  if [ "$power_loss" = 1 ]; then
    "$helper" prepare-disk "$work/disk" "$store"
    sim_env=(LD_PRELOAD="$simulator" STARHOLD_DISK_SIM_FILE="$store/data.mdb"
      STARHOLD_DISK_SIM_DIR="$work/disk")
  fi
  env "${sim_env[@]}" "$helper" bank-load "$store" --store-bytes 65536 --seconds 600 --clients "$clients" \
    >"$run_log" 2>"$work/load.err" &
  pid=$!
  delay_ms=$(((RANDOM * 32768 + RANDOM) % (max_run_ms + 1)))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  status=0
  wait "$pid" 2>/dev/null || status=$?
  # A line the kill cut short is not a report.
  if [ -n "$(tail -c1 "$run_log")" ]; then head -n -1 "$run_log"; else cat "$run_log"; fi >>"$log"
  if [ "$status" != 137 ]; then
    echo "soak: the loaded server ended with status $status before its kill $kill:" >&2
    cat "$work/load.err" >&2
    exit 1
  fi
  loss=""
  if [ "$power_loss" = 1 ]; then
    loss=$("$helper" power-loss "$work/disk" "$store" "$RANDOM")
  fi
  if ! "$helper" bank-check "$store" "$log" >"$work/check.out" 2>&1; then
    echo "soak: FAILED after kill $kill (${delay_ms} ms into its run) ${loss}" >&2
    cat "$work/check.out" >&2
    KEEP=1
    trap - EXIT
    echo "soak: store and logs kept in $work" >&2
    exit 1
  fi
  summary=$(grep '^check ok: ' "$work/check.out")
  commits=$(sed -E 's/.* commits=([0-9]+).*/\1/' <<<"$summary")
  checks=$((checks + 1))
  commits_checked=$((commits_checked + commits))
  marks_after_restart=$((marks_after_restart + $(sed -E 's/.* marks_run_after_restart=([0-9]+).*/\1/' <<<"$summary")))
  echo "kill $kill/$kills at ${delay_ms} ms: ${summary#check ok: }${loss:+ (${loss})}"
done
elapsed_ms=$((($(date +%s%N) - started) / 1000000))

marks=$(sed -E 's/.* marks=([0-9]+).*/\1/' <<<"$summary")
echo "soak summary: $kills kills; $((2 * kills)) restarts on the store (after each kill a" \
  "checker, then the next loaded server); $checks invariant checks passed"
echo "  reported commits: $commits at the end, each re-checked after every later kill" \
  "($commits_checked commit checks in all)"
echo "  durable one-shot tasks: $marks, each ran exactly once; $marks_after_restart of them were" \
  "due at a kill and ran after the restart"
echo "  total time: $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"
if [ "${KEEP:-0}" = 1 ]; then echo "  store and logs kept in $work"; fi
