// The task service: workers that run task attempts on fibers, the timer for
// delayed tasks and retries, the retry policy, and durable tasks.
//
// Threads: N workers, one timer thread. A worker takes new tasks from the
// shared ready queue and resumes its own parked attempts (those waiting for
// an intent token) before anything new. Retry policy:
//   conflict   retried (first at once, then with doubling, jittered backoff)
//              holding intents on the objects it conflicted on; failed after
//              max_conflict_retries in a row.
//   timeout    retried max_timeout_retries more times, then failed.
//   exception  not retried: the game's code decided; failed at once. Unless
//              the attempt's reads are no longer current: then the game
//              judged a stale snapshot, and it is a conflict.
//   storage    (the store rejected the commit) failed; a durable task is
//              re-armed after a second, as its record is still stored, unless
//              the store is in a fatal state (then it runs after a restart).
// A durable task that fails for another cause is retired by one more attempt
// of its own that only removes its record (a periodic one moves to its next
// period); the failure is final once that commit is durable. Failures are
// logged and counted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "core/services.hpp"
#include "data/data_service.hpp"
#include "starhold/server.hpp"
#include "task/attempt.hpp"
#include "task/fiber_stack.hpp"
#include "task/intents.hpp"

namespace starhold::task {

struct TaskCounters {
  std::atomic<std::uint64_t> submitted{0}, attempts{0}, committed{0}, failed{0};
  std::atomic<std::uint64_t> conflicts{0}, timeouts{0}, exceptions{0}, storage{0};
  std::atomic<std::uint64_t> retries{0}, hot_waits{0}, behind{0};
  std::array<std::atomic<std::uint64_t>, Histogram::kBuckets> commit_latency{};
};

class Worker {
 public:
  // here: runs single attempts on another thread's behalf (submit_here), not
  // a worker thread's loop; its attempts never park.
  Worker(TaskService& service, std::size_t index, bool here = false);
  void run();  // the worker thread's loop

  std::size_t index() const noexcept { return index_; }
  bool here() const noexcept { return here_; }
  // Parks the running attempt until the intent it queued for is handed to it.
  void park(Attempt& a);

 private:
  friend class TaskService;
  void start_attempt(Task* t);
  void resume(Attempt* a);
  void finish(Attempt* a);
  Attempt* take_attempt();

  TaskService& service_;
  const std::size_t index_;
  const bool here_;
  StackPool stacks_;
  std::vector<std::unique_ptr<Attempt>> idle_attempts_;
  static constexpr std::size_t kKeptAttempts = 64;  // the floor of attempt_reserve_
  ReuseReserve attempt_reserve_{kKeptAttempts};
  std::size_t parked_ = 0;       // attempts of this worker waiting for a token (worker thread only)
  void* tsan_thread_ = nullptr;  // ThreadSanitizer's name for the worker's own context
  // Guarded by TaskService::mu_:
  std::condition_variable cv_;
  std::deque<Attempt*> resumable_;
  bool idle_ = false;  // on TaskService::idle_workers_
};

class TaskService {
 public:
  TaskService(const ServerOptions& options, data::DataService& data, Log& log);
  ~TaskService();

  void handle(std::string name, TaskHandler handler, TaskOptions options = {});
  // Re-arms stored tasks and starts the threads. Throws UsageError if a
  // stored task names an unregistered handler.
  void start();
  void stop();
  bool running() const;

  // validated (optional) runs on the worker when the commit is accepted.
  // from_outside: a task of Server::submit, counted against
  // max_pending_tasks (throws Overloaded past it).
  void submit(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done,
              std::function<void()> validated = {}, bool from_outside = false,
              TaskOptions options = {});

  // As submit, but the first attempt runs now on the calling thread, if that
  // thread has used less than half of its recent time on such attempts (then
  // it goes to the workers as submit does). Such an attempt never waits for a
  // hot object (it runs on unordered, as past max_parked_attempts); a retry
  // goes to the workers. For network threads: a message's task costs no
  // hand-off and no wake-up. Not from within a task attempt.
  void submit_here(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done,
                   std::function<void()> validated);
  // Whether the calling thread is running a task attempt of submit_here.
  static bool running_here() noexcept;

  // As submit; the future is ready at the durable commit or holds TaskFailed.
  std::future<void> submit_future(std::string name, TaskBody body, bool from_outside = false,
                                  TaskOptions options = {});
  // Runs body as a task and waits for its durable commit; rethrows its failure.
  void submit_and_wait(std::string name, TaskBody body) {
    submit_future(std::move(name), std::move(body)).get();
  }

  // The services tasks reach through their Transaction (sessions, channels).
  void set_services(core::Services* services) noexcept { services_ = services; }
  core::Services& services() const noexcept { return *services_; }

  // ---- Used by transactions and workers ----
  const TaskHandler* handler(std::string_view name) const;
  // The time limit options give a task named name: its own, or the
  // server's. Throws UsageError for a negative one.
  std::chrono::milliseconds time_limit(const TaskOptions& options, std::string_view name) const;
  const ServerOptions& options() const noexcept { return options_; }
  data::DataService& data() noexcept { return data_; }
  IntentTable& intents() noexcept { return intents_; }
  TaskCounters& counters() noexcept { return counters_; }
  Log& log() noexcept { return log_; }
  std::size_t scheduled_pending() const noexcept { return armed_.load(); }
  std::size_t pending_from_outside() const noexcept { return outside_pending_.load(); }
  std::size_t parked() const noexcept { return parked_.load(); }
  // An attempt may park for a hot object only while fewer than the bound are parked.
  bool may_park() const noexcept { return parked_.load() < options_.max_parked_attempts; }
  void parking(bool starts) noexcept {
    if (starts) {
      parked_.fetch_add(1, std::memory_order_relaxed);
    } else {
      parked_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  // A task of Server::submit is gone (reported, or dropped).
  void outside_task_done() noexcept { outside_pending_.fetch_sub(1, std::memory_order_relaxed); }

  // Runs one attempt of a.task to its end and applies the retry policy. On
  // the attempt's fiber.
  void run_attempt(Attempt& a);
  // A commit's outcome, on the committer thread.
  void task_committed(Task* t);
  void task_commit_failed(Task* t, std::exception_ptr error);

  // The clock of time limits, timers and stored due times.
  const Clock& clock() const noexcept { return *clock_; }
  std::int64_t wall_ms() const noexcept { return clock_->wall_ms(); }

 private:
  friend class Worker;
  struct Timed {
    Steady::time_point due;
    Task* task;
    bool operator>(const Timed& o) const noexcept { return due > o.due; }
  };

  Task* make_task(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done,
                  std::function<void()> validated, bool from_outside, TaskOptions options);
  void enqueue(Task* t);  // ready now
  // Wakes one sleeping worker, taking it off the idle list so that the next
  // wake-up goes to another. REQUIRES: mu_ held.
  void wake_idle_worker();
  void enqueue_at(Task* t, Steady::time_point due);
  void arm(const Arm& a);
  void wake(Attempt* a);
  void run_timer();
  void retry(Task* t, Steady::duration delay);
  void fail(Task* t, TaskFailed::Cause cause, const std::string& detail);
  void drop(Task* t);  // at shutdown: never ran, never will here
  Steady::duration backoff(int conflicts);
  static Outcome game_error_outcome(TxImpl& tx);
  void recover();

  const ServerOptions options_;
  const std::shared_ptr<Clock> clock_;
  core::Services* services_ = nullptr;
  data::DataService& data_;
  Log& log_;
  IntentTable intents_;
  TaskCounters counters_;
  struct Handler {
    TaskHandler run;
    std::chrono::milliseconds time_limit;  // resolved: never zero
  };
  std::unordered_map<std::string, Handler> handlers_;  // fixed once started
  std::atomic<std::size_t> armed_{0};                  // durable tasks on the timer or queue
  std::atomic<std::size_t> outside_pending_{0};        // Server::submit tasks not finished
  std::atomic<std::size_t> parked_{0};                 // attempts waiting for a token

  mutable std::mutex mu_;  // guards the fields below and every Worker's queue fields
  std::deque<Task*> ready_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> timers_;
  std::condition_variable timer_cv_;
  bool started_ = false;
  bool stopping_ = false;

  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_workers_;  // asleep and not yet woken; guarded by mu_
  std::vector<std::thread> threads_;
  std::thread timer_thread_;
};

}  // namespace starhold::task
