// A worker thread and the fibers its task attempts run on.
#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "task/task_service.hpp"
#include "task/tsan_fibers.hpp"

namespace starhold {
namespace detail {
std::string demangle(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(t.name());
}
}  // namespace detail

namespace task {
namespace ctx = boost::context;

namespace {
// An idle worker trims its reserves to their floors after this without work.
constexpr std::chrono::seconds kTrimAfter{2};
}  // namespace

Attempt::Attempt(TaskService& service, Worker& w) : worker(&w), tx(service, *this) {}

Worker::Worker(TaskService& service, std::size_t index, bool here)
    : service_(service), index_(index), here_(here), stacks_(service.options().task_stack_bytes) {}

void Worker::run() {
  std::unique_lock lock(service_.mu_);
  for (;;) {
    if (!resumable_.empty()) {
      Attempt* a = resumable_.front();
      resumable_.pop_front();
      lock.unlock();
      --parked_;
      a->tx.extend_deadline(service_.clock().now() - a->parked_at);
      resume(a);
      lock.lock();
      continue;
    }
    if (!service_.stopping_ && !service_.ready_.empty()) {
      Task* t = service_.ready_.front();
      service_.ready_.pop_front();
      lock.unlock();
      start_attempt(t);
      lock.lock();
      continue;
    }
    if (service_.stopping_ && parked_ == 0) return;
    idle_ = true;
    service_.idle_workers_.push_back(this);
    // The reserves follow the load only while attempts come and go: a worker
    // left idle after a peak gives back what it kept for it.
    const bool reserves = stacks_.over_floor() || idle_attempts_.size() > kKeptAttempts;
    bool timed_out = false;
    if (reserves) {
      timed_out = cv_.wait_for(lock, kTrimAfter) == std::cv_status::timeout;
    } else {
      cv_.wait(lock);
    }
    if (idle_) {  // not woken through the idle list (stop, a timeout, or a spurious wake-up)
      std::erase(service_.idle_workers_, this);
      idle_ = false;
    }
    if (timed_out) {
      lock.unlock();
      stacks_.trim();
      if (idle_attempts_.size() > kKeptAttempts) idle_attempts_.resize(kKeptAttempts);
      lock.lock();
    }
  }
}

Attempt* Worker::take_attempt() {
  attempt_reserve_.taken();
  if (idle_attempts_.empty()) return new Attempt(service_, *this);
  Attempt* a = idle_attempts_.back().release();
  idle_attempts_.pop_back();
  return a;
}

void Worker::start_attempt(Task* t) {
  Attempt* a = take_attempt();
  a->task = t;
  a->finished = false;
  a->outcome = Outcome::committed;
  a->error.clear();
  a->conflict_id = 0;
  a->conflict_name.clear();
  ++t->attempts;
  service_.counters().attempts.fetch_add(1, std::memory_order_relaxed);
  try {
    a->fiber = ctx::fiber(std::allocator_arg, PooledStack{&stacks_}, [a](ctx::fiber&& caller) {
      a->caller = std::move(caller);
      TaskService& service = a->worker->service_;
      service.run_attempt(*a);
      a->finished = true;
      tsan::switch_to(a->worker->tsan_thread_);
      return std::move(a->caller);
    });
    a->tsan_fiber = tsan::create_fiber();
  } catch (const std::bad_alloc&) {
    // No memory for the fiber's stack: this task fails, the worker goes on.
    finish(a);
    service_.fail(
        t, TaskFailed::Cause::overload,
        fmt::format("no memory for a {}-byte task stack", service_.options().task_stack_bytes));
    return;
  }
  resume(a);
}

void Worker::resume(Attempt* a) {
  tsan_thread_ = tsan::current_fiber();
  tsan::switch_to(a->tsan_fiber);
  a->fiber = std::move(a->fiber).resume();
  if (a->finished) {
    finish(a);
  } else {
    ++parked_;  // it queued for an intent; wake() will bring it back here
  }
}

void Worker::park(Attempt& a) {
  a.parked_at = service_.clock().now();
  tsan::switch_to(tsan_thread_);
  a.caller = std::move(a.caller).resume();
}

void Worker::finish(Attempt* a) {
  tsan::destroy_fiber(a->tsan_fiber);
  a->tsan_fiber = nullptr;
  a->task = nullptr;
  if (attempt_reserve_.keep(idle_attempts_.size())) {
    idle_attempts_.emplace_back(a);
  } else {
    delete a;
    if (attempt_reserve_.excess(idle_attempts_.size())) idle_attempts_.pop_back();
  }
}

}  // namespace task
}  // namespace starhold
