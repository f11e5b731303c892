// How many freed things (fiber stacks, attempts) a worker keeps for reuse:
// as many as it had in use at its peak over the last one to two seconds, and
// at least a floor. A load that parks thousands of attempts on a hot object
// then reuses their stacks instead of mapping and unmapping one per attempt
// (each munmap makes every core the process runs on flush its TLB); after
// the peak has passed, what it left is given back within two seconds.
//
// One worker thread only.
#pragma once

#include <chrono>
#include <cstddef>

namespace starhold::task {

class ReuseReserve {
 public:
  explicit ReuseReserve(std::size_t floor) : floor_(floor) {}

  // One more is in use.
  void taken() noexcept {
    ++live_;
    if (live_ > peak_now_) peak_now_ = live_;
  }
  // One was freed while `kept` are kept: whether to keep it too.
  bool keep(std::size_t kept) noexcept {
    --live_;
    roll();
    return live_ + kept < limit();
  }
  // Whether `kept` is more than needed now (give one back).
  bool excess(std::size_t kept) const noexcept { return kept > floor_ && live_ + kept > limit(); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{1};

  std::size_t limit() const noexcept {
    std::size_t peak = peak_now_ > peak_before_ ? peak_now_ : peak_before_;
    return peak > floor_ ? peak : floor_;
  }
  void roll() noexcept {
    const Clock::time_point now = Clock::now();
    if (now - window_start_ < kWindow) return;
    peak_before_ = now - window_start_ < 2 * kWindow ? peak_now_ : live_;
    peak_now_ = live_;
    window_start_ = now;
  }

  const std::size_t floor_;
  std::size_t live_ = 0;
  std::size_t peak_now_ = 0;     // this window's peak
  std::size_t peak_before_ = 0;  // the previous window's
  Clock::time_point window_start_ = Clock::now();
};

}  // namespace starhold::task
