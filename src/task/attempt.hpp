// A task, and one attempt at running it.
//
// A Task lives from submit (or from being armed by the timer) until it is
// reported: committed, or failed. Each try at it is an Attempt, which runs on
// a fiber of one worker and never moves to another worker. Once an attempt's
// commit is accepted by the data service the Task belongs to the committer,
// which reports it and deletes it; the attempt must not touch it after that.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <boost/context/fiber.hpp>

#include "data/data_service.hpp"
#include "starhold/task.hpp"
#include "task/tx_impl.hpp"

namespace starhold::task {

class TaskService;
class Worker;

using Steady = std::chrono::steady_clock;

// A durable task to put on the timer once a commit is durable.
struct Arm {
  std::uint64_t record;
  std::string handler;
  std::int64_t due_ms;
  bool retiring = false;  // it failed; only its retirement is left to do
};

struct Task final : data::CommitWaiter {
  Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task();

  TaskService* service = nullptr;
  bool from_outside = false;  // counted in TaskService's pending tasks until deleted
  std::string name;
  TaskBody body;                                 // a submitted task
  std::uint64_t record = 0;                      // a durable scheduled task
  std::function<void(std::exception_ptr)> done;  // reported outcome, if anyone listens
  std::chrono::milliseconds time_limit{0};       // of each attempt
  // Runs on the worker as soon as the commit is accepted (before it is
  // durable): lets a session start its next message.
  std::function<void()> validated;
  int attempts = 0;
  int conflicts = 0;
  int timeouts = 0;
  std::vector<std::uint64_t> hints;  // objects to take intents on before the next attempt
  // A durable task that failed for good: its next attempt only retires its
  // record (one-shot: removed; periodic: moved to its next period), so the
  // failure is final once that commit is durable, and not before.
  bool retiring = false;

  // Handed over by the attempt that commits.
  std::vector<std::function<void()>> hooks;
  std::vector<Arm> arms;
  Steady::time_point commit_started{};

  void committed(data::Version version) override;
  void commit_failed(std::exception_ptr error) override;
};

// storage: the store is in a fatal state and refused the commit.
enum class Outcome { committed, conflict, timeout, exception, storage };

struct Attempt {
  Task* task = nullptr;
  Worker* worker = nullptr;
  boost::context::fiber fiber;      // the attempt, while it is not running
  boost::context::fiber caller;     // the worker, while the attempt runs
  void* tsan_fiber = nullptr;       // ThreadSanitizer's name for the fiber (TSan builds)
  std::vector<std::uint64_t> held;  // intent tokens
  bool finished = false;
  Steady::time_point parked_at{};

  Outcome outcome = Outcome::committed;
  std::string error;              // for exception and storage
  std::uint64_t conflict_id = 0;  // for conflict: the object, or 0 for a name
  std::string conflict_name;

  TxImpl tx;

  Attempt(TaskService& service, Worker& w);
};

}  // namespace starhold::task
