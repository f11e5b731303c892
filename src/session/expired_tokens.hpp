// The reconnect tokens of sessions that ended, with why they ended, so that
// a late RECONNECT is told session_expired or replay_overflow rather than
// invalid_token. Holds at most `capacity` tokens and forgets the oldest
// first. A token is known by its first 8 bytes: the server's tokens are
// random, and a collision could only change which refusal a stranger gets.
//
// Not thread-safe: the session service guards it with sessions_mu_.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "net/protocol.hpp"

namespace starhold::session {

// What a RECONNECT is told about a session that ended for end_reason.
inline net::Reason reconnect_refusal(net::Reason end_reason) noexcept {
  return end_reason == net::Reason::replay_overflow ? net::Reason::replay_overflow
                                                    : net::Reason::session_expired;
}

class ExpiredTokens {
 public:
  explicit ExpiredTokens(std::size_t capacity) : capacity_(capacity) {}

  void remember(std::string_view token, net::Reason why) {
    const auto k = key(token);
    if (capacity_ == 0 || !k || by_key_.count(*k) != 0) return;
    if (order_.size() == capacity_) {
      by_key_.erase(order_.front());
      order_.pop_front();
    }
    by_key_.emplace(*k, why);
    order_.push_back(*k);
  }

  // Why the session of token ended, if it is remembered.
  std::optional<net::Reason> find(std::string_view token) const {
    const auto k = key(token);
    if (!k) return std::nullopt;
    auto it = by_key_.find(*k);
    if (it == by_key_.end()) return std::nullopt;
    return it->second;
  }

  std::size_t size() const noexcept { return order_.size(); }

 private:
  static std::optional<std::uint64_t> key(std::string_view token) {
    std::uint64_t k = 0;
    if (token.size() < sizeof k) return std::nullopt;
    std::memcpy(&k, token.data(), sizeof k);
    return k;
  }

  const std::size_t capacity_;
  std::unordered_map<std::uint64_t, net::Reason> by_key_;
  std::deque<std::uint64_t> order_;  // oldest first
};

}  // namespace starhold::session
