#include "task/intents.hpp"

#include <algorithm>

#include "data/data_service.hpp"

namespace starhold::task {

IntentTable::Take IntentTable::take(std::uint64_t id, Attempt* a, bool may_wait,
                                    std::vector<std::uint64_t>& held) {
  std::lock_guard lock(mu_);
  Token& t = tokens_[id];
  if (t.holder == nullptr) {
    t.holder = a;
    held.push_back(id);
    return Take::taken;
  }
  if (t.holder == a) return Take::taken;
  if (!may_wait) return Take::busy;
  t.waiters.push_back(a);
  held.push_back(id);
  // A queue means contention: keep the object hot while it lasts.
  t.hot_until = std::max(t.hot_until, Clock::now() + cool_down_);
  data_.set_hot(id, true);
  return Take::queued;
}

void IntentTable::release(Attempt* a, std::vector<std::uint64_t>& held) {
  if (held.empty()) return;
  std::vector<Attempt*> woken;
  std::vector<std::uint64_t> cooled;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (std::uint64_t id : held) {
      auto it = tokens_.find(id);
      if (it == tokens_.end() || it->second.holder != a) continue;
      Token& t = it->second;
      if (!t.waiters.empty()) {
        t.holder = t.waiters.front();
        t.waiters.pop_front();
        woken.push_back(t.holder);
      } else if (t.hot_until > now) {
        t.holder = nullptr;
      } else {
        if (t.hot_until != Clock::time_point{}) cooled.push_back(id);
        tokens_.erase(it);
      }
    }
  }
  held.clear();
  for (std::uint64_t id : cooled)
    data_.set_hot(id, false);
  for (Attempt* w : woken)
    wake_(w);
}

void IntentTable::conflicted(std::uint64_t id) {
  std::vector<std::uint64_t> cooled;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    tokens_[id].hot_until = now + cool_down_;
    // Tokens nobody holds or waits for are otherwise only dropped on release;
    // sweep those that cooled down so the table stays as small as the contention.
    if (tokens_.size() > kSweepAbove) {
      for (auto it = tokens_.begin(); it != tokens_.end();) {
        const Token& t = it->second;
        if (t.holder == nullptr && t.waiters.empty() && t.hot_until <= now) {
          cooled.push_back(it->first);
          it = tokens_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  data_.set_hot(id, true);
  for (std::uint64_t c : cooled)
    data_.set_hot(c, false);
}

}  // namespace starhold::task
