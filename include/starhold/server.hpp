// The server: a game's world in one process. It owns the store, the data
// service and the task workers. A game creates one Server, registers its task
// handlers, calls start(), and then submits or schedules work.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "starhold/store.hpp"
#include "starhold/task.hpp"

namespace starhold {

enum class LogLevel { debug, info, warn, error };

// Receives every log line at or above ServerOptions::log_level. Called from
// any Starhold thread, possibly concurrently; must not block for long.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;

struct ServerOptions {
  // ---- Store (used when the Server opens its own LMDB store) ----
  std::string store_path = "starhold-data";
  // true: a commit is reported only once it is on disk (survives power loss).
  // false: relaxed; a crash may lose the last commits, never corrupts.
  bool durable = true;
  std::size_t initial_store_bytes = std::size_t{64} << 20;
  // The store grows up to this; past it, writes fail with StoreFull.
  std::size_t max_store_bytes = std::size_t{64} << 30;

  // ---- Tasks ----
  int workers = 0;  // worker threads; 0 = one per core
  // Each attempt of a task may run this long; past it, the attempt is aborted
  // at its next Starhold call or at commit. Time spent waiting for a hot
  // object held by another task does not count.
  std::chrono::milliseconds task_time_limit{100};
  // A task that conflicts this many times in a row fails (TaskFailed::conflict).
  int max_conflict_retries = 64;
  // A task that exceeds its time limit is tried this many more times, then fails.
  int max_timeout_retries = 2;
  // Backoff before retrying a conflicted task: doubles from min to max, with jitter.
  std::chrono::microseconds retry_backoff_min{50};
  std::chrono::microseconds retry_backoff_max{20000};
  // Stack of each task's fiber. Game code runs on it.
  std::size_t task_stack_bytes = std::size_t{256} << 10;

  // ---- Data ----
  // Memory for decoded-object records kept between tasks.
  std::size_t cache_bytes = std::size_t{256} << 20;
  // Commits validated but not yet durable; past this, committing tasks wait.
  // It also bounds the commits written in one store transaction.
  std::size_t max_pending_commits = 100000;

  // ---- Logging ----
  LogSink log;  // empty: lines go to stderr
  LogLevel log_level = LogLevel::info;
};

// A latency histogram with power-of-two microsecond buckets: bucket i counts
// samples in [2^(i-1), 2^i) microseconds (bucket 0: under 1 us).
struct Histogram {
  static constexpr std::size_t kBuckets = 32;
  std::array<std::uint64_t, kBuckets> buckets{};
  std::uint64_t count = 0;
  // Upper bound, in microseconds, of the bucket holding quantile q (0..1).
  double quantile_us(double q) const noexcept;
};

// A snapshot of the server's counters since start.
struct Metrics {
  std::uint64_t tasks_submitted = 0;   // transient tasks accepted by submit()
  std::uint64_t attempts_started = 0;  // task attempts begun (first runs and retries)
  std::uint64_t tasks_committed = 0;   // commits reported (durable)
  std::uint64_t tasks_failed = 0;      // tasks given up on (see TaskFailed)
  std::uint64_t aborts_conflict = 0;
  std::uint64_t aborts_timeout = 0;
  std::uint64_t aborts_exception = 0;
  std::uint64_t aborts_storage = 0;  // commits failed by the store (full disk)
  std::uint64_t retries = 0;
  std::uint64_t hot_waits = 0;  // attempts that waited for a hot object
  std::uint64_t store_batches = 0;
  std::uint64_t store_writes = 0;  // records written (after coalescing)
  std::uint64_t store_resizes = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t scheduled_pending = 0;  // durable tasks waiting to run
  Histogram commit_latency;             // commit request to durable report
};

namespace detail {
class Engine;
}

// Thread-safe: every member may be called from any thread, except that
// handle() must come before start(), and the destructor must not race with
// other calls.
class Server {
 public:
  // Opens (or creates) the LMDB store at options.store_path. Throws
  // StoreFormatError, StoreError, UsageError (for invalid options or
  // conflicting managed type names).
  explicit Server(ServerOptions options);
  // Runs over the given store instead of opening one.
  Server(ServerOptions options, std::unique_ptr<Store> store);
  // Stops the server (see stop) and closes the store.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers the handler that runs tasks scheduled under name. Must be
  // called before start(). Throws UsageError on a duplicate name or after start.
  void handle(std::string name, TaskHandler handler);

  // Starts the workers and the commit thread, and re-arms every durable task
  // left in the store (also those of a run that crashed). Throws UsageError if
  // a stored task names an unregistered handler.
  void start();

  // Stops taking tasks, lets running attempts finish, writes every validated
  // commit, and stops the threads. Durable tasks not yet run stay stored and
  // run after the next start(). Transient tasks not yet committed fail with
  // TaskFailed::shutdown. Idempotent.
  void stop();

  // Runs body as a task named name. The future becomes ready when the commit
  // is durable, or holds TaskFailed if the task failed. Not durable before it
  // runs: a crash before the commit loses it. Throws UsageError if the server
  // is not running.
  std::future<void> submit(std::string name, TaskBody body);

  // As submit, but calls done (on a Starhold thread; must not block) with
  // nullptr on commit or the TaskFailed exception.
  void submit(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done);

  // Schedules a durable task from outside a task (in a transaction of its own).
  // The future becomes ready once the task is stored.
  std::future<TaskHandle> schedule(std::string handler, std::string payload,
                                   std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  std::future<TaskHandle> schedule_periodic(std::string handler, std::string payload,
                                            std::chrono::milliseconds delay,
                                            std::chrono::milliseconds period);

  Metrics metrics() const;
  const ServerOptions& options() const noexcept;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

}  // namespace starhold
