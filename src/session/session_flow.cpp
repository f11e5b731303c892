// Messages through a live session: inbound ones become tasks, one at a time
// and in order; outbound ones leave after their commit; acknowledgements
// trim the replay kept for reconnects; the session ends through a task that
// tells the game.
#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "channel/channel_service.hpp"
#include "session/connection.hpp"
#include "session/records.hpp"
#include "session/session_service.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

namespace {
// The server acknowledges (HEARTBEAT) every this many counted frames received.
constexpr std::uint64_t kAcknowledgeEvery = 64;
}  // namespace

std::shared_ptr<SessionState> SessionService::find(std::uint64_t session) {
  std::shared_lock lock(sessions_mu_);
  auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : it->second;
}

bool SessionService::attached(std::uint64_t session) {
  auto s = find(session);
  if (!s) return false;
  std::lock_guard lock(s->mu);
  return s->conn != nullptr && !s->ended;
}

// ---- Outbound ------------------------------------------------------------------

void SessionService::send(Transaction& tx, Session session, std::string_view message) {
  if (message.size() + 1 > options_.max_message_bytes) {
    throw UsageError(fmt::format("a message of {} bytes exceeds the maximum of {}", message.size(),
                                 options_.max_message_bytes - 1));
  }
  auto f = net::FrameWriter(Op::session_message, message.size()).rest(message).share();
  tx.on_commit([this, id = session.id().value, f] {
    if (auto s = find(id)) deliver(*s, f);
  });
}

void SessionService::deliver(SessionState& state, const net::FramePtr& f) {
  bool overflow = false, start_end = false;
  {
    std::lock_guard lock(state.mu);
    if (state.ended) return;
    ++state.sent;
    counters_.sent.fetch_add(1, std::memory_order_relaxed);
    if (state.ending) {
      // No reconnect can resume it any more: send, keep nothing.
      state.replay_first = state.sent + 1;
      if (state.conn) state.conn->send(f);
      return;
    }
    state.replay.push_back(f);
    state.replay_bytes += f->size();
    if (state.replay_bytes > options_.replay_buffer_bytes) {
      if (state.conn) {
        // The client has these or is being sent them; a reconnect that
        // turns out to need one of them is refused (replay_overflow).
        while (state.replay_bytes > options_.replay_buffer_bytes) {
          state.replay_bytes -= state.replay.front()->size();
          state.replay.pop_front();
          ++state.replay_first;
        }
      } else {
        // Missed for sure: the session cannot be resumed whole. It ends now,
        // and keeps nothing more meanwhile.
        overflow = true;
        start_end = queue_end(state, false, Reason::replay_overflow, false);
      }
    }
    if (state.conn) state.conn->send(f);
  }
  if (overflow) {
    log_.info("session {} '{}' missed more than the replay budget of {} bytes while away", state.id,
              state.identity, options_.replay_buffer_bytes);
  }
  if (start_end) {
    // Not from here: a channel's fan-out may be delivering under its own lock.
    boost::asio::post(*ios_[0], [this, s = state.shared_from_this()] { run_next(s); });
  }
}

void SessionService::trim_replay(SessionState& state, std::uint64_t received) {
  while (!state.replay.empty() && state.replay_first <= received) {
    state.replay_bytes -= state.replay.front()->size();
    state.replay.pop_front();
    ++state.replay_first;
  }
  if (state.replay.empty()) {
    state.replay_first = state.sent + 1;
    std::deque<net::FramePtr>().swap(state.replay);  // idle sessions keep no buffer
  }
}

void SessionService::acknowledged(SessionState& state, const Connection* from,
                                  std::uint64_t received) {
  std::lock_guard lock(state.mu);
  if (state.conn.get() == from && received <= state.sent) trim_replay(state, received);
}

// ---- Inbound ---------------------------------------------------------------------

bool SessionService::inbound(const std::shared_ptr<SessionState>& state, const Connection* from,
                             Inbound in) {
  bool start = false, keep_reading = true;
  {
    std::lock_guard lock(state->mu);
    if (state->ending || state->conn.get() != from) return true;
    ++state->received;
    if (state->received % kAcknowledgeEvery == 0 && state->conn) {
      state->conn->send(net::FrameWriter(Op::heartbeat).u64(state->received).share());
    }
    state->inbound_bytes += in.data.size();
    state->inbound.push_back(std::move(in));
    start = !state->busy;
    state->busy = true;
    if (state->inbound.size() >= options_.inbound_queue_messages ||
        state->inbound_bytes >= options_.inbound_queue_bytes) {
      state->reading_paused = true;
      keep_reading = false;
    }
  }
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  if (start) run_next(state);
  return keep_reading;
}

void SessionService::run_next(const std::shared_ptr<SessionState>& state) {
  Inbound item;
  std::shared_ptr<Connection> resume;
  {
    std::lock_guard lock(state->mu);
    if (state->inbound.empty()) {
      state->busy = false;
      return;
    }
    item = std::move(state->inbound.front());
    state->inbound.pop_front();
    state->inbound_bytes -= item.data.size();
    if (state->reading_paused && state->inbound.size() <= options_.inbound_queue_messages / 2 &&
        state->inbound_bytes <= options_.inbound_queue_bytes / 2) {
      state->reading_paused = false;
      resume = state->conn;
    }
  }
  if (resume) resume->resume_reading();
  submit_inbound(state, std::move(item));
}

void SessionService::submit_inbound(const std::shared_ptr<SessionState>& state, Inbound item) {
  if (network_io_ != nullptr && options_.tasks_on_network_threads &&
      task::TaskService::running_here()) {
    // The previous message's task, run here, was just accepted: this one
    // runs here too, once that task has returned.
    boost::asio::post(*network_io_, [this, state, item = std::move(item)]() mutable {
      submit_inbound(state, std::move(item));
    });
    return;
  }
  const Session session(ObjectId{state->id});
  TaskBody body;
  std::string name;
  switch (item.kind) {
    case Inbound::Kind::message:
      name = state->message_task;
      body = [state, session, data = std::move(item.data)](Transaction& tx) {
        tx.get(state->listener).received(tx, session, data);
      };
      break;
    case Inbound::Kind::channel_message:
      name = state->channel_task;
      body = [this, session, channel = item.channel, data = std::move(item.data)](Transaction& tx) {
        channels_->client_message(tx, Channel(ObjectId{channel}), session, data);
      };
      break;
    case Inbound::Kind::end:
      name = fmt::format("session '{}' end", state->identity);
      body = [this, state, session, graceful = item.graceful, reason = item.reason,
              tell = item.tell_client](Transaction& tx) {
        SessionRecord* rec = nullptr;
        try {
          rec = &tx.get(Ref<SessionRecord>(session.id()));
        } catch (const ObjectNotFound&) {
        }
        if (rec != nullptr) {
          if (rec->listener) tx.get(rec->listener).disconnected(tx, session, graceful);
          const std::string bound = identity_name(rec->identity);
          if (auto* current = tx.find<SessionRecord>(bound); current == rec) tx.unbind(bound);
          tx.remove(*rec);
        }
        tx.on_commit([this, state, reason, tell] { finish_end(state, reason, tell); });
      };
      break;
  }
  const bool is_end = item.kind == Inbound::Kind::end;
  auto done = [this, state, is_end](std::exception_ptr e) {
    if (!e) return;
    if (is_end) {
      // The listener failed; the session still ends, without it.
      tasks_.submit(
          "starhold.end-session",
          [this, state](Transaction& tx) {
            const Session session(ObjectId{state->id});
            if (auto* current = tx.find<SessionRecord>(identity_name(state->identity));
                current != nullptr && current->id() == session.id()) {
              tx.unbind(identity_name(state->identity));
            }
            try {
              tx.remove(Ref<SessionRecord>(session.id()));
            } catch (const ObjectNotFound&) {
            }
            tx.on_commit([this, state] { finish_end(state, Reason::internal_error, true); });
          },
          {});
    }
    run_next(state);  // the failed message is dropped; the next one goes on
  };
  auto validated = [this, state] { run_next(state); };
  try {
    if (network_io_ != nullptr && options_.tasks_on_network_threads) {
      tasks_.submit_here(std::move(name), std::move(body), std::move(done), std::move(validated));
    } else {
      tasks_.submit(std::move(name), std::move(body), std::move(done), std::move(validated));
    }
  } catch (const UsageError&) {
    // The server is stopping: nothing more runs.
  }
}

// ---- The end ----------------------------------------------------------------------

void SessionService::logout(const std::shared_ptr<SessionState>& state, const Connection* from) {
  {
    std::lock_guard lock(state->mu);
    if (state->conn.get() != from) return;
  }
  end_session(state, true, Reason::logged_out, true);
}

void SessionService::disconnect(Transaction& tx, Session session) {
  tx.on_commit([this, id = session.id().value] {
    if (auto s = find(id)) end_session(s, true, Reason::kicked, true);
  });
}

void SessionService::end_session(const std::shared_ptr<SessionState>& state, bool graceful,
                                 Reason reason, bool tell_client) {
  bool start = false;
  {
    std::lock_guard lock(state->mu);
    start = queue_end(*state, graceful, reason, tell_client);
  }
  if (start) run_next(state);
}

bool SessionService::queue_end(SessionState& state, bool graceful, Reason reason,
                               bool tell_client) {
  if (state.ending) return false;
  state.ending = true;
  state.end_reason = reason;
  state.replay.clear();
  state.replay_bytes = 0;
  Inbound end;
  end.kind = Inbound::Kind::end;
  end.graceful = graceful;
  end.reason = reason;
  end.tell_client = tell_client;
  state.inbound.push_back(std::move(end));
  const bool start = !state.busy;
  state.busy = true;
  return start;
}

void SessionService::finish_end(const std::shared_ptr<SessionState>& state, Reason reason,
                                bool tell_client) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(state->mu);
    if (state->ended) return;
    state->ended = true;
    conn = std::move(state->conn);
    state->replay.clear();
  }
  forget(state);
  if (channels_ != nullptr) channels_->session_ended(state->id);
  if (conn) {
    if (reason == Reason::logged_out) {
      conn->send_and_close(net::FrameWriter(Op::logout_ok).share(), Reason::logged_out);
    } else if (tell_client) {
      conn->close(reason, reason == Reason::duplicate_login ? "you logged in again elsewhere"
                          : reason == Reason::kicked        ? "the game ended the session"
                                                            : "the session ended");
    } else {
      conn->drop();
    }
  }
  log_.info("session {} '{}' ended ({})", state->id, state->identity, net::reason_name(reason));
}

void SessionService::forget(const std::shared_ptr<SessionState>& state) {
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(state->id);
  if (it != sessions_.end() && it->second == state) sessions_.erase(it);
  auto t = by_token_.find(state->token);
  if (t != by_token_.end() && t->second == state->id) {
    by_token_.erase(t);
    expired_tokens_.remember(state->token, reconnect_refusal(state->end_reason));
  }
}

// ---- Lost connections ---------------------------------------------------------------

void SessionService::connection_lost(const std::shared_ptr<SessionState>& state,
                                     const Connection* conn) {
  if (!running_) return;  // at shutdown sessions stay for the next start to end
  {
    std::lock_guard lock(state->mu);
    if (state->conn.get() != conn) return;  // already replaced by a reconnect
    state->conn.reset();
    if (state->ending || state->ended) return;
    if (options_.reconnect_grace.count() > 0) {
      start_grace(state);
      log_.info("session {} '{}' lost its connection; waiting {} ms for a reconnect", state->id,
                state->identity, options_.reconnect_grace.count());
      return;
    }
  }
  end_session(state, false, Reason::session_expired, false);
}

void SessionService::start_grace(const std::shared_ptr<SessionState>& state) {
  state->grace_ticket = grace_->start(state);
}

void SessionService::grace_expired(const std::shared_ptr<SessionState>& s, std::uint64_t ticket) {
  if (!running_) return;
  {
    std::lock_guard lock(s->mu);
    // A reconnect ends the period (cancel); a later loss begins another.
    if (s->grace_ticket != ticket || s->conn || s->ending) return;
    s->grace_ticket = 0;
  }
  log_.info("session {} '{}' was not resumed in time", s->id, s->identity);
  end_session(s, false, Reason::session_expired, false);
}

}  // namespace starhold::session
