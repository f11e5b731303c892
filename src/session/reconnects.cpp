// Reconnects: a client that lost its connection resumes its session with
// its reconnect token, and the server resends what the client missed.
#include <utility>

#include <boost/asio/post.hpp>

#include "session/connection.hpp"
#include "session/session_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

void SessionService::reconnect(std::shared_ptr<Connection> conn, std::string token,
                               std::uint64_t received) {
  std::shared_ptr<SessionState> state;
  {
    std::lock_guard lock(sessions_mu_);
    auto it = by_token_.find(token);
    if (it != by_token_.end()) {
      auto s = sessions_.find(it->second);
      if (s != sessions_.end()) state = s->second;
    }
  }
  auto refuse = [&](Reason reason, const std::string& why) {
    log_.info("reconnect from {} refused: {}", conn->address(), why);
    conn->reconnect_failed(reason, why);
  };
  if (!state) return refuse(Reason::invalid_token, "no session has that token");
  std::shared_ptr<Connection> old;
  std::size_t resent = 0;
  {
    std::lock_guard lock(state->mu);
    if (state->ending || state->ended)
      return refuse(Reason::session_expired, "the session has ended");
    if (received > state->sent) {
      return refuse(Reason::session_expired, "the client counts more messages than were sent");
    }
    trim_replay(*state, received);
    if (received + 1 < state->replay_first) {
      return refuse(Reason::session_expired, "messages sent meanwhile are no longer kept");
    }
    old = std::move(state->conn);
    state->conn = conn;
    if (state->grace_ticket != 0) grace_->cancel(std::exchange(state->grace_ticket, 0));
    boost::asio::post(conn->executor(), [conn, state] { conn->attach(state); });
    conn->send(net::FrameWriter(Op::reconnect_ok).u64(state->id).u64(state->received).share());
    for (const auto& f : state->replay)
      conn->send(f);
    resent = state->replay.size();
  }
  if (old) old->drop();
  counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
  log_.info("session {} '{}' resumed from {}, resending {} messages", state->id, state->identity,
            conn->address(), resent);
}

}  // namespace starhold::session
