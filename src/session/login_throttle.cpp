#include "session/login_throttle.hpp"

#include <algorithm>
#include <string_view>

namespace starhold::session {
namespace {

// How long a successful login makes its address known to the account.
constexpr auto kTrustedFor = std::chrono::hours(24);
// Account names are told apart by this many bytes (a login frame may carry
// a name of 64 KiB; the table must not hold that many bytes per entry).
constexpr std::size_t kNameBytes = 256;
// Eviction looks at this many of the least recently used entries for one
// that is neither locked nor in flight before it takes the oldest anyway.
constexpr int kEvictionScan = 8;

// Keys are built by appending: GCC 12's -Wrestrict misreads
// "literal" + std::string&& at -O3 as an overlapping copy.
std::string key(char kind, std::string_view first) {
  std::string k(1, kind);
  k.append(first);
  return k;
}
std::string address_key(const std::string& address) {
  return key('a', address);
}
std::string account_key(const std::string& account) {
  return key('n', std::string_view(account).substr(0, kNameBytes));
}
std::string pair_key(const std::string& account, const std::string& address) {
  std::string k = key('p', std::string_view(account).substr(0, kNameBytes));
  k.append(1, '\0').append(address);
  return k;
}

}  // namespace

LoginThrottle::LoginThrottle(const ServerOptions& o)
    : per_address_(std::max(1, o.max_failed_logins)),
      per_account_(std::max(1, o.max_failed_logins_per_account)),
      window_(o.login_lockout),
      max_entries_(std::max<std::size_t>(3, o.login_throttle_entries)) {}

LoginThrottle::Verdict LoginThrottle::begin(const std::string& address, const std::string& account,
                                            Ticket& ticket, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Entry& a = touch(address_key(address), now);
  if (a.locked_until > now) return Verdict::address_locked;
  if (now - a.last_failure > window_) a.failures = 0;
  if (a.failures + a.in_flight >= per_address_) return Verdict::address_busy;

  const Entry* pair = find(pair_key(account, address));
  const bool trusted = pair != nullptr && pair->trusted_until > now;
  if (!trusted) {
    Entry& n = touch(account_key(account), now);
    refill(n, now);
    if (n.tokens < 1.0) return Verdict::account_throttled;
    n.tokens -= 1.0;
  }
  // touch() may have evicted the address entry; look it up again.
  ++touch(address_key(address), now).in_flight;
  ticket = Ticket{address, account, !trusted};
  return Verdict::allowed;
}

bool LoginThrottle::finish(const Ticket& t, Outcome outcome, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (t.took_token && outcome != Outcome::failed) {
    if (Entry* n = find(account_key(t.account))) {
      refill(*n, now);
      n->tokens = std::min<double>(per_account_, n->tokens + 1.0);
    }
  }
  if (outcome == Outcome::succeeded)
    touch(pair_key(t.account, t.address), now).trusted_until = now + kTrustedFor;
  Entry& a = touch(address_key(t.address), now);
  a.in_flight = std::max(0, a.in_flight - 1);
  if (outcome != Outcome::failed) return a.locked_until > now;
  if (now - a.last_failure > window_) a.failures = 0;
  a.last_failure = now;
  if (++a.failures >= per_address_) {
    a.failures = 0;
    a.locked_until = now + window_;
  }
  return a.locked_until > now;
}

bool LoginThrottle::address_locked(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  const Entry* a = find(address_key(address));
  return a != nullptr && a->locked_until > now;
}

std::size_t LoginThrottle::entries() {
  std::lock_guard lock(mu_);
  return table_.size();
}

LoginThrottle::Entry* LoginThrottle::find(const std::string& key) {
  auto it = table_.find(key);
  return it == table_.end() ? nullptr : &it->second;
}

LoginThrottle::Entry& LoginThrottle::touch(const std::string& key, Clock::time_point now) {
  auto it = table_.find(key);
  if (it != table_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  while (table_.size() >= max_entries_)
    evict_one(now);
  lru_.push_front(key);
  Entry& e = table_[key];
  e.lru = lru_.begin();
  return e;
}

void LoginThrottle::refill(Entry& n, Clock::time_point now) const {
  if (n.refilled == Clock::time_point{}) {
    n.tokens = per_account_;  // a new account entry starts full
  } else if (window_.count() > 0) {
    const double elapsed = std::chrono::duration<double>(now - n.refilled).count();
    const double rate = per_account_ / std::chrono::duration<double>(window_).count();
    n.tokens = std::min<double>(per_account_, n.tokens + elapsed * rate);
  } else {
    n.tokens = per_account_;  // no window: no limit
  }
  n.refilled = now;
}

void LoginThrottle::evict_one(Clock::time_point now) {
  auto victim = std::prev(lru_.end());
  auto at = victim;
  for (int i = 0; i < kEvictionScan; ++i) {
    const Entry& e = table_.at(*at);
    if (e.in_flight == 0 && e.locked_until <= now) {
      victim = at;
      break;
    }
    if (at == lru_.begin()) break;
    --at;
  }
  table_.erase(*victim);
  lru_.erase(victim);
}

}  // namespace starhold::session
