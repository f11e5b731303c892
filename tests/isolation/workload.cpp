#include "isolation/workload.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "isolation/slot_ops.hpp"
#include "support/flaky_store.hpp"
#include "support/test_support.hpp"

namespace isolation {
namespace {

// One step of a task.
struct Step {
  enum class Kind : std::uint8_t {
    read,
    strict_read,
    write,
    double_write,
    recreate,
    empty,
    kept_ref,
    scan,
  };
  Kind kind;
  int slot;
  bool declare;
  std::uint64_t pick;  // which kept Ref to follow
};

struct Plan {
  bool setup = false;
  bool audit = false;  // a long read-only task over every slot
  std::vector<Step> steps;
  std::string label;
};

// A task's record: one log per run of its body, then its outcome.
struct TaskRecord {
  Plan plan;
  struct AttemptLog {
    std::int64_t began;
    std::vector<Op> ops;
    std::vector<std::pair<starhold::ObjectId, bool>> created;
  };
  // An attempt is added under mu; its body alone then writes it, and ends
  // before the next attempt begins and before the outcome is reported.
  std::mutex mu;
  std::vector<AttemptLog> attempts;  // guarded by mu
  std::exception_ptr outcome;        // guarded by mu
  std::int64_t finished = 0;         // guarded by mu
  std::int64_t submitted = 0;        // set before the task is submitted
};

// Tasks in flight; shared with completion callbacks.
struct Tracker {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;  // guarded by mu
};

constexpr const char* kStepLabel[] = {"r", "R", "w", "ww", "new", "rm", "ref", "scan"};

Plan make_plan(const WorkloadOptions& o, std::mt19937_64& rng) {
  Plan plan;
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  if (chance(o.audit_percent)) {
    plan.audit = true;
    plan.label = "audit";
    return plan;
  }
  // Weights of each step kind, in Step::Kind order.
  using Weights = std::discrete_distribution<int>;
  Weights kinds = o.mix == WorkloadOptions::Mix::moving_refs ? Weights({0, 50, 10, 0, 35, 0, 5, 0})
                  : o.mix == WorkloadOptions::Mix::removals  ? Weights({5, 0, 10, 0, 30, 10, 45, 0})
                                                            : Weights({14, 14, 34, 5, 8, 5, 12, 4});
  if (o.hot) {
    plan.steps.push_back(Step{chance(75) ? Step::Kind::write : Step::Kind::read, 0, chance(50), 0});
  }
  // Moving refs: the named slots only (name lookups never wait for a writer).
  auto pick_slot = [&] {
    if (o.mix != WorkloadOptions::Mix::moving_refs) {
      return static_cast<int>(rng() % static_cast<unsigned>(o.slots));
    }
    return 2 + 4 * static_cast<int>(rng() % static_cast<unsigned>((o.slots + 1) / 4)) +
           static_cast<int>(rng() % 2);
  };
  const int count = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < count; ++i) {
    plan.steps.push_back(Step{static_cast<Step::Kind>(kinds(rng)), pick_slot(), chance(50), rng()});
  }
  for (const Step& s : plan.steps) {
    plan.label += std::string(kStepLabel[static_cast<int>(s.kind)]) + std::to_string(s.slot) + " ";
  }
  plan.label.pop_back();
  return plan;
}

// Game work that waits (as for a slow computation elsewhere): it keeps the
// task open, and its worker busy, without taking a core from the others.
void think(std::chrono::microseconds d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

void run_steps(const Plan& plan, World& world, SlotOps& ops, std::chrono::microseconds pause) {
  if (plan.audit) {
    for (int i = 0; i < static_cast<int>(world.slots.size()); ++i) {
      ops.read(i, false);
      think(pause);
    }
    return;
  }
  for (const Step& s : plan.steps) {
    think(pause);
    switch (s.kind) {
      case Step::Kind::read:
      case Step::Kind::strict_read:
        ops.read(s.slot, s.kind == Step::Kind::strict_read);
        break;
      case Step::Kind::write:
      case Step::Kind::double_write:
        ops.write(s.slot, s.kind == Step::Kind::write ? 1 : 2, s.declare);
        break;
      case Step::Kind::recreate:
        ops.recreate(s.slot);
        break;
      case Step::Kind::empty:
        ops.empty(s.slot);
        break;
      case Step::Kind::kept_ref:
        ops.read_kept_ref(s.pick);
        break;
      case Step::Kind::scan:
        ops.scan();
        break;
    }
  }
}

starhold::TaskBody body_of(std::shared_ptr<TaskRecord> record, std::shared_ptr<World> world,
                           const WorkloadOptions& o) {
  return [record, world, slots = o.slots, think = o.think](starhold::Transaction& tx) {
    TaskRecord::AttemptLog* log = nullptr;
    {
      std::lock_guard lock(record->mu);
      log = &record->attempts.emplace_back(TaskRecord::AttemptLog{now_ns(), {}, {}});
    }
    if (record->plan.setup) {
      world->create(tx, slots, log->ops, log->created);
      return;
    }
    SlotOps ops(*world, tx, log->ops, log->created);
    run_steps(record->plan, *world, ops, think);
  };
}

Failure failure_of(starhold::TaskFailed::Cause c) {
  switch (c) {
    case starhold::TaskFailed::Cause::exception:
      return Failure::exception;
    case starhold::TaskFailed::Cause::timeout:
      return Failure::timeout;
    case starhold::TaskFailed::Cause::conflict:
      return Failure::conflict;
    case starhold::TaskFailed::Cause::storage:
      return Failure::storage;
    case starhold::TaskFailed::Cause::shutdown:
    case starhold::TaskFailed::Cause::overload:  // never ran, as at a shutdown
      return Failure::shutdown;
  }
  return Failure::exception;
}

bool plans_writes(const Plan& plan) {
  if (plan.setup) return true;
  return std::any_of(plan.steps.begin(), plan.steps.end(), [](const Step& s) {
    return s.kind != Step::Kind::read && s.kind != Step::Kind::strict_read &&
           s.kind != Step::Kind::kept_ref && s.kind != Step::Kind::scan;
  });
}

// Appends the attempts of one finished task to the result.
void collect(std::size_t task, TaskRecord& record, WorkloadResult& result) {
  std::lock_guard lock(record.mu);
  Failure failure = Failure::none;
  Fate last = Fate::committed;
  if (record.outcome) {
    try {
      std::rethrow_exception(record.outcome);
    } catch (const starhold::TaskFailed& e) {
      failure = failure_of(e.cause());
      ++result.failed[static_cast<int>(e.cause())];
    }
    last = failure == Failure::storage ? Fate::dropped : Fate::aborted;
  } else {
    ++result.committed;
  }
  for (std::size_t i = 0; i < record.attempts.size(); ++i) {
    const bool final = i + 1 == record.attempts.size();
    Txn t;
    t.ops = std::move(record.attempts[i].ops);
    t.fate = final ? last : Fate::aborted;
    t.failure = final ? failure : Failure::none;
    t.label = "task " + std::to_string(task) + " attempt " + std::to_string(i + 1) + ": " +
              record.plan.label;
    t.began = record.attempts[i].began;
    // The attempt's snapshot is taken before its body starts: after the task
    // was submitted, or after the previous attempt began.
    t.snapshot_after = i == 0 ? record.submitted : record.attempts[i - 1].began;
    t.plans_writes = plans_writes(record.plan);
    t.ended = final ? record.finished : record.attempts[i + 1].began;
    result.history.push_back(std::move(t));
  }
}

}  // namespace

WorkloadResult run_workload(const WorkloadOptions& o, const std::string& dir) {
  test::LogCapture log;
  starhold::ServerOptions options = test::options_for(dir, log, o.workers);
  options.log_level = starhold::LogLevel::error;
  options.durable = o.durable;
  options.max_conflict_retries = o.max_conflict_retries;
  starhold::LmdbOptions lmdb{dir};
  lmdb.durable = o.durable;
  auto flaky = std::make_unique<test::FlakyStore>(starhold::open_lmdb_store(lmdb), o.seed);
  test::FlakyStore* store = flaky.get();
  starhold::Server server(options, std::move(flaky));
  server.start();

  auto world = std::make_shared<World>();
  auto tracker = std::make_shared<Tracker>();
  std::vector<std::shared_ptr<TaskRecord>> records;
  // Waits until fewer than limit tasks are in flight.
  auto wait_below = [&](int limit) {
    std::unique_lock lock(tracker->mu);
    if (!tracker->cv.wait_for(lock, std::chrono::minutes(1),
                              [&] { return tracker->in_flight < limit; })) {
      throw std::runtime_error("isolation workload: tasks still unfinished after a minute");
    }
  };
  auto submit = [&](Plan plan) {
    wait_below(o.in_flight);
    {
      std::lock_guard lock(tracker->mu);
      ++tracker->in_flight;
    }
    auto record = std::make_shared<TaskRecord>();
    record->plan = std::move(plan);
    records.push_back(record);
    record->submitted = now_ns();
    server.submit(record->plan.label, body_of(record, world, o),
                  [record, world, tracker](std::exception_ptr e) {
                    {
                      std::lock_guard lock(record->mu);
                      record->outcome = e;
                      record->finished = now_ns();
                      if (!e && !record->attempts.empty()) {
                        for (const auto& [id, list] : record->attempts.back().created)
                          world->remember(id, list);
                      }
                    }
                    std::lock_guard lock(tracker->mu);
                    --tracker->in_flight;
                    tracker->cv.notify_all();
                  });
  };

  Plan setup;
  setup.setup = true;
  setup.label = "setup";
  submit(std::move(setup));
  wait_below(1);
  store->set_failure_rate(o.store_failure_rate, o.store_failure_delay);

  std::mt19937_64 rng(o.seed);
  const auto deadline = std::chrono::steady_clock::now() + o.duration;
  for (int i = 0; i < o.max_tasks && std::chrono::steady_clock::now() < deadline; ++i)
    submit(make_plan(o, rng));
  wait_below(1);

  WorkloadResult result;
  result.metrics = server.metrics();
  result.store_failures = store->failures();
  result.tasks = records.size();
  server.stop();
  for (std::size_t i = 0; i < records.size(); ++i)
    collect(i, *records[i], result);
  return result;
}

std::string WorkloadResult::describe() const {
  return std::to_string(tasks) + " tasks: " + std::to_string(committed) +
         " committed; failed: " + std::to_string(failed[0]) + " exception, " +
         std::to_string(failed[1]) + " timeout, " + std::to_string(failed[2]) + " conflict, " +
         std::to_string(failed[3]) + " storage; " + std::to_string(store_failures) +
         " store batches failed; " + std::to_string(metrics.attempts_started) + " attempts, " +
         std::to_string(metrics.aborts_conflict) + " conflicts, " +
         std::to_string(metrics.hot_waits) + " hot waits";
}

WorkloadOptions scaled(WorkloadOptions options) {
  const char* env = std::getenv("STARHOLD_ISOLATION_SCALE");
  const double factor = env != nullptr ? std::atof(env) : 1.0;
  if (factor > 0) {
    options.max_tasks = static_cast<int>(options.max_tasks * factor);
    options.duration = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(options.duration.count()) * factor));
  }
  return options;
}

}  // namespace isolation
