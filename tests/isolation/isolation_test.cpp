// Every task is a serializable transaction over a consistent snapshot: the
// isolation workload's history, checked for every anomaly, under several
// loads. STARHOLD_ISOLATION_SCALE=10 runs each ten times longer.
#include <catch2/catch.hpp>

#include "isolation/checker.hpp"
#include "isolation/workload.hpp"
#include "support/test_support.hpp"

using isolation::Anomaly;
using isolation::WorkloadOptions;

namespace {

struct Run {
  isolation::WorkloadResult result;
  isolation::Report report;
};

// Runs the workload, checks its history, and requires that it found nothing.
Run run_checked(const WorkloadOptions& options) {
  test::TempDir dir;
  Run run{isolation::run_workload(isolation::scaled(options), dir.path()), {}};
  run.report = isolation::check(run.result.history);
  INFO(run.result.describe() << "\n" << run.report.summary());
  CHECK(run.result.committed > 200);  // the run did real work
  CHECK(run.report.clean());
  return run;
}

void check_uniform(int workers) {
  const Run run = run_checked(WorkloadOptions{.workers = workers});
  // Tasks really overlapped.
  CHECK(run.result.metrics.aborts_conflict > 0);
}

void check_hot(int workers) {
  const Run run = run_checked(WorkloadOptions{.workers = workers, .hot = true});
  // Tasks queued for the hot object (conflicts are rare: the queue prevents them).
  CHECK(run.result.metrics.hot_waits > 0);
}

}  // namespace

TEST_CASE("isolation: 2 workers over uniform keys", "[isolation]") {
  check_uniform(2);
}

TEST_CASE("isolation: 4 workers over uniform keys", "[isolation]") {
  check_uniform(4);
}

TEST_CASE("isolation: 8 workers over uniform keys", "[isolation]") {
  check_uniform(8);
}

TEST_CASE("isolation: 2 workers with a hot object in every task", "[isolation]") {
  check_hot(2);
}

TEST_CASE("isolation: 4 workers with a hot object in every task", "[isolation]") {
  check_hot(4);
}

TEST_CASE("isolation: 8 workers with a hot object in every task", "[isolation]") {
  check_hot(8);
}

TEST_CASE("isolation: a store that fails 2% of its write batches", "[isolation]") {
  // A failing batch takes 20 ms to fail, as a device that times out does:
  // meanwhile other tasks read what it installed. Tasks pause 2 ms per step,
  // so that many are open across each failure.
  const Run run = run_checked(WorkloadOptions{.workers = 8,
                                              .mix = WorkloadOptions::Mix::removals,
                                              .store_failure_rate = 0.02,
                                              .store_failure_delay = std::chrono::milliseconds(20),
                                              .think = std::chrono::milliseconds(2)});
  CHECK(run.result.store_failures > 0);
  CHECK(run.report.dropped > 0);  // commits were installed, then dropped
}

TEST_CASE("isolation: readers follow refs that writers move and remove", "[isolation]") {
  // Readers look up names that writers rebind to new objects, removing the
  // old ones in the same commit. The races are narrow: many short tasks.
  const Run run = run_checked(WorkloadOptions{.workers = 8,
                                              .slots = 4,
                                              .mix = WorkloadOptions::Mix::moving_refs,
                                              .max_tasks = 60000,
                                              .duration = std::chrono::milliseconds(2500)});
  CHECK(run.result.metrics.aborts_conflict > 0);
}

TEST_CASE("isolation: long read-only tasks under write load", "[isolation]") {
  // Audits read all 48 slots (half of them by name), pausing at each, while
  // other tasks re-create and empty slots. A task that writes nothing must
  // commit whatever the retry limit; a low one keeps the run short.
  const Run run = run_checked(WorkloadOptions{.workers = 8,
                                              .slots = 48,
                                              .think = std::chrono::microseconds(50),
                                              .audit_percent = 5,
                                              .max_conflict_retries = 8});
  CHECK(run.result.metrics.aborts_conflict > 0);
}
