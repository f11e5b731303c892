// Reconnects: a client that lost its connection resumes its session with
// its reconnect token, and the server resends what the client missed.
//
// First the address's attempt limit (DISCONNECT too_many_attempts past it).
// Then the answer, in order of the checks: invalid_token when no session has
// the token (and no recently ended one had it); session_expired or
// replay_overflow when the session has ended or is ending; otherwise the
// client's count decides. A count the server cannot serve (more than it
// sent, or older than the oldest frame it kept) ends the session, since no
// later RECONNECT could resume it either. A RECONNECT that succeeds rotates
// the token (RECONNECT_OK carries the new one) and takes the session over
// from any connection it still has (DISCONNECT resumed_elsewhere there).
#include <openssl/rand.h>

#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "session/connection.hpp"
#include "session/session_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

std::string new_reconnect_token() {
  std::string t(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(t.data()), static_cast<int>(t.size())) != 1) {
    throw std::runtime_error("RAND_bytes could not make a reconnect token");
  }
  return t;
}

bool SessionService::reconnect_allowed(const Connection& conn) {
  std::lock_guard lock(reconnects_mu_);
  return reconnect_attempts_.take(conn.address(), now());
}

void SessionService::reconnect(std::shared_ptr<Connection> conn, std::string token,
                               std::uint64_t received) {
  if (!reconnect_allowed(*conn)) {
    conn->close(Reason::too_many_attempts,
                "too many reconnect attempts from this address; try again later");
    return;
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
  std::string fresh;
  try {
    fresh = new_reconnect_token();
  } catch (const std::exception& e) {
    log_.error("reconnect from {} failed: {}", conn->address(), e.what());
    return refuse(Reason::internal_error, "the reconnect could not be completed");
  }
  // sessions_mu_ is held until the token has rotated, so two RECONNECTs with
  // one token cannot both succeed; state->mu until the replay is queued, so
  // nothing delivered meanwhile overtakes RECONNECT_OK.
  std::unique_lock maps(sessions_mu_);
  std::shared_ptr<SessionState> state;
  if (auto it = by_token_.find(token); it != by_token_.end()) {
    if (auto s = sessions_.find(it->second); s != sessions_.end()) state = s->second;
  }
  if (!state) {
    const auto ended = expired_tokens_.find(token);
    maps.unlock();
    if (ended) return refuse(*ended, ended_because(*ended));
    return refuse(Reason::invalid_token, "no session has that token");
  }
  std::unique_lock lock(state->mu);
  std::optional<Reason> unserved;
  std::string why;
  if (state->ending || state->ended) {
    unserved = reconnect_refusal(state->end_reason);
    why = ended_because(*unserved);
  } else if (received > state->sent) {
    unserved = Reason::session_expired;
    why =
        fmt::format("the client counts {} messages, but the server sent {}", received, state->sent);
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
  if (unserved) {
    const bool end = !state->ending && !state->ended;
    lock.unlock();
    maps.unlock();
    refuse(*unserved, why);
    if (end) end_session(state, false, *unserved, false);
    return;
  }
  by_token_.erase(token);
  state->token = std::move(fresh);
  by_token_.emplace(state->token, state->id);
  maps.unlock();

  std::shared_ptr<Connection> old = std::move(state->conn);
  state->conn = conn;
  if (state->grace_ticket != 0) grace_->cancel(std::exchange(state->grace_ticket, 0));
  boost::asio::post(conn->executor(), [conn, state] { conn->attach(state); });
  conn->send(net::FrameWriter(Op::reconnect_ok)
                 .u64(state->id)
                 .u64(state->received)
                 .blob(state->token)
                 .share());
  for (const auto& f : state->replay)
    conn->send(f);
  const std::size_t resent = state->replay.size();
  lock.unlock();

  if (old) old->close(Reason::resumed_elsewhere, "the session was resumed on another connection");
  counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
  log_.info("session {} '{}' resumed from {}{}, resending {} messages", state->id, state->identity,
            conn->address(), old ? ", taking it over from a connection still open" : "", resent);
}

}  // namespace starhold::session
