// A clock for ServerOptions::session_clock that moves only when the test says.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

namespace test {

class ManualClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // A clock that starts now and stands still until advance().
  static std::shared_ptr<ManualClock> make() { return std::make_shared<ManualClock>(); }

  void advance(std::chrono::milliseconds d) { offset_ms_.fetch_add(d.count()); }
  time_point now() const { return base_ + std::chrono::milliseconds(offset_ms_.load()); }

  // For ServerOptions::session_clock; keeps the clock alive.
  static std::function<time_point()> function(const std::shared_ptr<ManualClock>& clock) {
    return [clock] { return clock->now(); };
  }

 private:
  const time_point base_ = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> offset_ms_{0};
};

}  // namespace test
