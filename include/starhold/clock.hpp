// Time as Starhold's tasks see it: task time limits, the delays and periods
// of scheduled tasks, and retry backoff. A Server reads the system's clocks
// unless ServerOptions::clock names another; tests use a ShiftedClock to make
// time pass (a delay expire, a time limit run out) without waiting for it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace starhold {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for time limits and timers. Any thread.
  virtual std::chrono::steady_clock::time_point now() const noexcept = 0;
  // Milliseconds since the Unix epoch, for the due times stored with durable
  // tasks (they outlive the process, so they are wall-clock times). Any thread.
  virtual std::int64_t wall_ms() const noexcept = 0;
  // True if time may jump forward: then Starhold never sleeps long on it.
  virtual bool jumps() const noexcept { return false; }
};

// The system's steady and wall clocks.
std::shared_ptr<Clock> system_clock();

// The system's clocks shifted forward by whatever advance() added, so time
// keeps flowing and can also jump. Thread-safe.
class ShiftedClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const noexcept override {
    return std::chrono::steady_clock::now() + shift();
  }
  std::int64_t wall_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               (std::chrono::system_clock::now() + shift()).time_since_epoch())
        .count();
  }
  bool jumps() const noexcept override { return true; }

  // Moves both clocks forward by d (d >= 0).
  void advance(std::chrono::milliseconds d) noexcept {
    if (d.count() > 0) shift_ms_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

 private:
  std::chrono::milliseconds shift() const noexcept {
    return std::chrono::milliseconds(shift_ms_.load(std::memory_order_acquire));
  }
  std::atomic<std::int64_t> shift_ms_{0};
};

}  // namespace starhold
