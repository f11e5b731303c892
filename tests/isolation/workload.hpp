// The isolation workload: many concurrent tasks over a few slots (see
// slot_ops.hpp), submitted to a real Server over a real LMDB store, each
// attempt recording what it read and wrote. The result is the history of
// every attempt whose outcome is known, ready for the checker.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "isolation/history.hpp"
#include "starhold/starhold.hpp"

namespace isolation {

struct WorkloadOptions {
  int workers = 4;
  int slots = 8;
  // Every task also writes or reads slot 0 (a hot object), besides its own keys.
  bool hot = false;
  // What the tasks mostly do.
  enum class Mix : std::uint8_t {
    // A bit of everything.
    standard,
    // Re-create named slots, or look them up strictly (letting ObjectNotFound
    // fail the task, as a game that trusts its names and Refs does).
    moving_refs,
    // Re-create and empty slots, and follow Refs kept from earlier tasks.
    removals,
  };
  Mix mix = Mix::standard;
  // Above 0: the store fails this share of write batches (test::FlakyStore),
  // each after store_failure_delay.
  double store_failure_rate = 0.0;
  std::chrono::microseconds store_failure_delay{0};
  // Game work (a sleep) before each step, so that tasks stay open longer and
  // overlap more than the cores alone would let them.
  std::chrono::microseconds think{0};
  // Share of tasks (percent) that read every slot and write nothing.
  int audit_percent = 3;
  // Submitting stops at whichever bound comes first.
  int max_tasks = 20000;
  std::chrono::milliseconds duration{1500};
  int in_flight = 256;
  // ServerOptions::max_conflict_retries: a task that conflicts this many
  // times in a row fails.
  int max_conflict_retries = 64;
  // Commits reported only once synced (the default for games); false: relaxed.
  bool durable = true;
  std::uint64_t seed = 1;
};

struct WorkloadResult {
  History history;
  starhold::Metrics metrics;
  std::size_t tasks = 0;
  std::size_t committed = 0;
  std::size_t failed[7] = {};  // by starhold::TaskFailed::Cause
  std::uint64_t store_failures = 0;
  std::string describe() const;
};

// Runs the workload on a new server whose store lives in dir. Throws
// std::runtime_error if no task finishes for a minute while it waits for one.
WorkloadResult run_workload(const WorkloadOptions& options, const std::string& dir);

// Scales the task count and duration of options by the environment variable
// STARHOLD_ISOLATION_SCALE (a factor, default 1) for longer runs.
WorkloadOptions scaled(WorkloadOptions options);

}  // namespace isolation
