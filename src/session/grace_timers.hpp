// The reconnect grace periods of sessions that lost their connection.
//
// start() begins a session's grace period and returns its ticket; cancel()
// ends it early (the session was resumed). When a period runs out, expired()
// is called with the session and the ticket, on the io thread, in the order
// the periods began. Every period has the same length, and time comes from
// one monotonic clock, so the order of tickets is the order of deadlines: the
// pending periods are a map by ticket and only the first needs a timer.
//
// The clock is the session service's (ServerOptions::session_clock): with a
// clock other than the steady clock, deadlines are checked at least every
// kPoll of real time, so a test that steps its clock sees the periods end.
//
// Thread-safe: start() and cancel() may be called from any thread; the timer
// runs on io. Lock order: a SessionState's mu, then mu_.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace starhold::session {

struct SessionState;

class GraceTimers {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Expired = std::function<void(const std::shared_ptr<SessionState>&, std::uint64_t ticket)>;
  static constexpr auto kPoll = std::chrono::milliseconds(10);

  // clock empty: the steady clock.
  GraceTimers(boost::asio::io_context& io, Clock clock, std::chrono::milliseconds grace,
              Expired expired);

  // Begins a grace period for session; returns its ticket (never 0).
  std::uint64_t start(const std::shared_ptr<SessionState>& session);
  // Ends the period of ticket, if it is still running; expired() will not be called for it.
  void cancel(std::uint64_t ticket);
  // Periods still running (bounded by the sessions waiting for a reconnect).
  std::size_t pending();

 private:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::weak_ptr<SessionState> session;
  };
  std::chrono::steady_clock::time_point now() const;
  void arm();  // on io
  void fire();

  boost::asio::io_context& io_;
  const Clock clock_;
  const std::chrono::milliseconds grace_;
  const Expired expired_;
  boost::asio::steady_timer timer_;  // on io only

  std::mutex mu_;
  std::map<std::uint64_t, Entry> pending_;  // guarded by mu_; ticket order = deadline order
  std::uint64_t next_ticket_ = 1;           // guarded by mu_
  bool armed_ = false;                      // guarded by mu_: a wait or an arm() is under way
};

}  // namespace starhold::session
