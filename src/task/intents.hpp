// Write intents: contention management for hot objects.
//
// Optimistic validation alone collapses on an object every task updates:
// retries create more conflicts. So a task that declares it will write an
// object (get_for_update), or that reads an object recently involved in a
// conflict (a hot object), first takes that object's intent token. Holders of
// one token run one after another: the next waiter is resumed when the
// holder's attempt ends, and by then the holder's commit is installed, so the
// waiter reads the new version and does not conflict.
//
// Tokens only order work; correctness still comes from commit validation, so
// a task that cannot take a token (see may_wait) just proceeds optimistically.
// Waits cannot deadlock: an attempt waits for a token only if every token it
// already holds has a smaller object id, so waits always go up in id order.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace starhold::data {
class DataService;
}

namespace starhold::task {

struct Attempt;

class IntentTable {
 public:
  using Wake = std::function<void(Attempt*)>;
  IntentTable(data::DataService& data, std::chrono::milliseconds cool_down, Wake wake)
      : data_(data), cool_down_(cool_down), wake_(std::move(wake)) {}

  enum class Take { taken, queued, busy };

  // Takes id's token for a, or queues a behind the holder if may_wait (the
  // caller must then park a; it holds the token when resumed), or returns
  // busy. On taken and queued, id is appended to held.
  Take take(std::uint64_t id, Attempt* a, bool may_wait, std::vector<std::uint64_t>& held);

  // Releases every token in held, handing each to its next waiter.
  void release(Attempt* a, std::vector<std::uint64_t>& held);

  // A commit failed validation on id: mark it hot for a while.
  void conflicted(std::uint64_t id);

  // True when a may wait for id given the tokens it holds.
  static bool may_wait(std::uint64_t id, const std::vector<std::uint64_t>& held) {
    for (std::uint64_t h : held) {
      if (h >= id) return false;
    }
    return true;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Token {
    Attempt* holder = nullptr;
    std::deque<Attempt*> waiters;
    Clock::time_point hot_until{};
  };

  static constexpr std::size_t kSweepAbove = 1024;

  data::DataService& data_;
  const std::chrono::milliseconds cool_down_;
  const Wake wake_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Token> tokens_;  // guarded by mu_
};

}  // namespace starhold::task
