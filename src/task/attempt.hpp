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

using Clock = std::chrono::steady_clock;

// A durable task to put on the timer once a commit is durable.
struct Arm {
  std::uint64_t record;
  std::string handler;
  std::int64_t due_ms;
};

struct Task final : data::CommitWaiter {
  TaskService* service = nullptr;
  std::string name;
  TaskBody body;                                 // a submitted task
  std::uint64_t record = 0;                      // a durable scheduled task
  std::function<void(std::exception_ptr)> done;  // reported outcome, if anyone listens
  // Runs on the worker as soon as the commit is accepted (before it is
  // durable): lets a session start its next message.
  std::function<void()> validated;
  int attempts = 0;
  int conflicts = 0;
  int timeouts = 0;
  std::vector<std::uint64_t> hints;  // objects to take intents on before the next attempt

  // Handed over by the attempt that commits.
  std::vector<std::function<void()>> hooks;
  std::vector<Arm> arms;
  Clock::time_point commit_started{};

  void committed(data::Version version) override;
  void commit_failed(std::exception_ptr error) override;
};

enum class Outcome { committed, conflict, timeout, exception };

struct Attempt {
  Task* task = nullptr;
  Worker* worker = nullptr;
  boost::context::fiber fiber;      // the attempt, while it is not running
  boost::context::fiber caller;     // the worker, while the attempt runs
  std::vector<std::uint64_t> held;  // intent tokens
  bool finished = false;
  Clock::time_point parked_at{};

  Outcome outcome = Outcome::committed;
  std::string error;              // for exception
  std::uint64_t conflict_id = 0;  // for conflict: the object, or 0 for a name
  std::string conflict_name;

  TxImpl tx;

  Attempt(TaskService& service, Worker& w);
};

}  // namespace starhold::task
