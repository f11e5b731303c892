// Reconnects: a client that lost its connection resumes its session with
// its reconnect token, and the server resends what the client missed.
//
// The answer, in order of the checks: invalid_token when no session has the
// token (and no recently ended one had it); session_expired or
// replay_overflow when the session has ended or is ending; otherwise the
// client's count decides. A count the server cannot serve (more than it
// sent, or older than the oldest frame it kept) ends the session, since no
// later RECONNECT could resume it either.
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "session/connection.hpp"
#include "session/session_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

net::FramePtr SessionService::login_ok_frame(std::uint64_t session,
                                             const std::string& token) const {
  return net::FrameWriter(Op::login_ok)
      .u64(session)
      .blob(token)
      .u32(static_cast<std::uint32_t>(options_.reconnect_grace.count()))
      .u32(static_cast<std::uint32_t>(options_.replay_buffer_bytes))
      .share();
}

void SessionService::reconnect(std::shared_ptr<Connection> conn, std::string token,
                               std::uint64_t received) {
  std::shared_ptr<SessionState> state;
  std::optional<Reason> ended;
  {
    std::lock_guard lock(sessions_mu_);
    auto it = by_token_.find(token);
    if (it != by_token_.end()) {
      auto s = sessions_.find(it->second);
      if (s != sessions_.end()) state = s->second;
    } else {
      ended = expired_tokens_.find(token);
    }
  }
  auto refuse = [&](Reason reason, const std::string& why) {
    log_.info("reconnect from {} refused: {}", conn->address(), why);
    conn->reconnect_failed(reason, why);
  };
  auto ended_because = [](Reason r) {
    return r == Reason::replay_overflow
               ? std::string("the session ended: it missed more than the replay budget")
               : std::string("the session has ended");
  };
  if (!state) {
    if (ended) return refuse(*ended, ended_because(*ended));
    return refuse(Reason::invalid_token, "no session has that token");
  }
  std::shared_ptr<Connection> old;
  std::size_t resent = 0;
  std::optional<Reason> unserved;
  std::string why;
  {
    std::lock_guard lock(state->mu);
    if (state->ending || state->ended) {
      const Reason r = reconnect_refusal(state->end_reason);
      return refuse(r, ended_because(r));
    }
    if (received > state->sent) {
      unserved = Reason::session_expired;
      why = fmt::format("the client counts {} messages, but the server sent {}", received,
                        state->sent);
    } else {
      trim_replay(*state, received);
      if (received + 1 < state->replay_first) {
        unserved = Reason::replay_overflow;
        why = fmt::format(
            "the client lacks messages the server no longer keeps: it had not acknowledged "
            "them within the replay budget of {} bytes",
            options_.replay_buffer_bytes);
      }
    }
    if (!unserved) {
      old = std::move(state->conn);
      state->conn = conn;
      if (state->grace_ticket != 0) grace_->cancel(std::exchange(state->grace_ticket, 0));
      boost::asio::post(conn->executor(), [conn, state] { conn->attach(state); });
      conn->send(net::FrameWriter(Op::reconnect_ok).u64(state->id).u64(state->received).share());
      for (const auto& f : state->replay)
        conn->send(f);
      resent = state->replay.size();
    }
  }
  if (unserved) {
    refuse(*unserved, why);
    end_session(state, false, *unserved, false);
    return;
  }
  if (old) old->drop();
  counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
  log_.info("session {} '{}' resumed from {}, resending {} messages", state->id, state->identity,
            conn->address(), resent);
}

}  // namespace starhold::session
