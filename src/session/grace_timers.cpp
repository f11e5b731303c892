#include "session/grace_timers.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

namespace starhold::session {

GraceTimers::GraceTimers(boost::asio::io_context& io, Clock clock, std::chrono::milliseconds grace,
                         Expired expired)
    : io_(io), clock_(std::move(clock)), grace_(grace), expired_(std::move(expired)), timer_(io) {}

std::chrono::steady_clock::time_point GraceTimers::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

std::uint64_t GraceTimers::start(const std::shared_ptr<SessionState>& session) {
  std::lock_guard lock(mu_);
  const std::uint64_t ticket = next_ticket_++;
  pending_.emplace(ticket, Entry{now() + grace_, session});
  if (!armed_) {
    armed_ = true;
    boost::asio::post(io_, [this] { arm(); });
  }
  return ticket;
}

void GraceTimers::cancel(std::uint64_t ticket) {
  std::lock_guard lock(mu_);
  pending_.erase(ticket);
}

std::size_t GraceTimers::pending() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void GraceTimers::arm() {
  std::chrono::steady_clock::duration wait{};
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) {
      armed_ = false;
      return;
    }
    wait = std::max(pending_.begin()->second.deadline - now(),
                    std::chrono::steady_clock::duration::zero());
  }
  if (clock_) wait = std::min<std::chrono::steady_clock::duration>(wait, kPoll);
  timer_.expires_after(wait);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) fire();
  });
}

void GraceTimers::fire() {
  std::vector<std::pair<std::uint64_t, std::weak_ptr<SessionState>>> due;
  {
    std::lock_guard lock(mu_);
    const auto t = now();
    while (!pending_.empty() && pending_.begin()->second.deadline <= t) {
      due.emplace_back(pending_.begin()->first, std::move(pending_.begin()->second.session));
      pending_.erase(pending_.begin());
    }
  }
  for (auto& [ticket, weak] : due) {
    if (auto s = weak.lock()) expired_(s, ticket);
  }
  arm();
}

}  // namespace starhold::session
