// Limits on password guessing, counted before any password is checked.
//
// begin() runs when a LOGIN arrives, before the authenticator hashes
// anything, and either refuses the attempt or counts it in flight; finish()
// runs with the authenticator's answer. So N connections that guess at once
// get no more guesses than one connection guessing N times.
//
// Per address: failures within `window` of each other; at `per_address` the
// address is locked for `window`. Attempts in flight count against the same
// budget, so while failures + attempts in flight reach it, new attempts are
// refused as busy (not locked: they may succeed). An attacker locks out only
// its own address (behind a proxy, enable the PROXY protocol so that this is
// the client's address).
// Per account: a token bucket of `per_account` guesses, refilled at
// `per_account` per `window`; each attempt takes a token when it starts, a
// success or an unchecked attempt gives it back. An empty bucket refuses
// attempts from addresses the account has not logged in from in the last
// 24 hours; the owner's known addresses skip it, so many strangers together
// can slow the guessing on an account but cannot lock its owner out.
//
// Every address, account and (account, address) success lives in one table
// of at most `max_entries`, the least recently used forgotten first.
// Thread-safe: every call takes mu_.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "starhold/server.hpp"

namespace starhold::session {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Verdict {
    allowed,
    address_locked,     // too many failures from the address
    address_busy,       // its failures and attempts in flight use up its budget
    account_throttled,  // the account's allowance for unknown addresses is empty
  };
  enum class Outcome { succeeded, failed, not_checked };

  // An attempt that begin() allowed; hand it to finish() exactly once.
  struct Ticket {
    std::string address;
    std::string account;
    bool took_token = false;  // from the account's bucket
  };

  explicit LoginThrottle(const ServerOptions& options);

  // Counts an attempt before it is checked, or refuses it. On allowed,
  // ticket describes what to give back in finish().
  Verdict begin(const std::string& address, const std::string& account, Ticket& ticket,
                Clock::time_point now = Clock::now());
  // The attempt's outcome. Returns true when the address is now locked.
  bool finish(const Ticket& ticket, Outcome outcome, Clock::time_point now = Clock::now());
  bool address_locked(const std::string& address, Clock::time_point now = Clock::now());
  std::size_t entries();

 private:
  struct Entry {
    // address: failures and attempts in flight, and the lock
    int failures = 0;
    int in_flight = 0;
    Clock::time_point last_failure{};
    Clock::time_point locked_until{};
    // account: the bucket of guesses
    double tokens = 0;
    Clock::time_point refilled{};
    // (account, address): when the pair last logged in
    Clock::time_point trusted_until{};
    std::list<std::string>::iterator lru;
  };

  // The entry of key, created (evicting the least recently used) if absent,
  // and marked as most recently used. REQUIRES: mu_ held.
  Entry& touch(const std::string& key, Clock::time_point now);
  Entry* find(const std::string& key);  // REQUIRES: mu_ held
  void refill(Entry& account, Clock::time_point now) const;
  void evict_one(Clock::time_point now);  // REQUIRES: mu_ held

  const int per_address_;
  const int per_account_;
  const Clock::duration window_;
  const std::size_t max_entries_;

  std::mutex mu_;
  std::unordered_map<std::string, Entry> table_;  // guarded by mu_
  std::list<std::string> lru_;                    // guarded by mu_; front: most recent
};

}  // namespace starhold::session
