// Attempts per address: a token bucket for each address (burst attempts,
// refilled at rate a second), in a table that holds at most `capacity`
// addresses and forgets the least recently seen one first. Forgetting an
// address only gives it a fresh burst, so the table's bound costs at most
// that much leniency towards a client with very many addresses.
//
// Not thread-safe: its owner guards it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace starhold::session {

class AttemptLimiter {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // rate 0: no limit.
  AttemptLimiter(double rate, double burst, std::size_t capacity)
      : rate_(rate), burst_(burst), capacity_(std::max<std::size_t>(capacity, 1)) {}

  // Takes one attempt of address at now; false if it has none left.
  bool take(const std::string& address, time_point now) {
    if (rate_ <= 0) return true;
    auto it = index_.find(address);
    if (it == index_.end()) {
      if (lru_.size() >= capacity_) {
        index_.erase(lru_.back().address);
        lru_.pop_back();
      }
      lru_.push_front(Bucket{address, burst_, now});
      it = index_.emplace(lru_.front().address, lru_.begin()).first;
    } else {
      lru_.splice(lru_.begin(), lru_, it->second);
    }
    Bucket& b = *it->second;
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst_, b.tokens + std::max(elapsed, 0.0) * rate_);
    b.at = now;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

  std::size_t addresses() const noexcept { return lru_.size(); }

 private:
  struct Bucket {
    std::string address;
    double tokens;
    time_point at;
  };
  const double rate_, burst_;
  const std::size_t capacity_;
  std::list<Bucket> lru_;  // most recently seen first
  // Keys view the addresses in lru_'s nodes, which never move.
  std::unordered_map<std::string_view, std::list<Bucket>::iterator> index_;
};

}  // namespace starhold::session
