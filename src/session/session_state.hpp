// The in-memory side of a live session: its connection, its queues, and the
// counters of the protocol's reconnect replay. Shared by the network thread
// of its connection, the workers that run its tasks, and the committer that
// delivers its messages; every field below `mu` is guarded by it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <fmt/format.h>

#include "net/protocol.hpp"
#include "starhold/session.hpp"

namespace starhold::session {

class Connection;

// 32 random bytes: a new reconnect token. Throws std::runtime_error if the
// system has no randomness to give.
std::string new_reconnect_token();

// A client message waiting for its task, or the end of the session.
struct Inbound {
  enum class Kind { message, channel_message, end };
  Kind kind = Kind::message;
  std::uint64_t channel = 0;
  std::string data;
  bool graceful = false;                     // for end
  net::Reason reason = net::Reason::kicked;  // for end: what the client is told, if attached
  bool tell_client = false;                  // for end
};

struct SessionState : std::enable_shared_from_this<SessionState> {
  SessionState(std::uint64_t id_, std::string identity_, Ref<SessionListener> listener_,
               std::string token_)
      : id(id_),
        identity(std::move(identity_)),
        listener(listener_),
        message_task(fmt::format("session '{}' message", identity)),
        channel_task(fmt::format("session '{}' channel message", identity)),
        token(std::move(token_)) {}

  const std::uint64_t id;
  const std::string identity;
  const Ref<SessionListener> listener;
  // The names of the tasks its messages run as, made once.
  const std::string message_task, channel_task;
  std::string token;  // guarded by the service's sessions_mu_ (by_token_ maps it); rotates

  std::mutex mu;
  std::shared_ptr<Connection> conn;  // null while detached
  std::uint64_t grace_ticket = 0;    // the running grace period (GraceTimers), 0 if none

  // Outbound counted frames: replay holds frames replay_first .. sent that the
  // client has not acknowledged, within the replay budget (replay_bytes, the
  // sum of their sizes). Nothing is kept once the session is ending.
  std::uint64_t sent = 0;
  std::uint64_t replay_first = 1;
  std::deque<net::FramePtr> replay;
  std::size_t replay_bytes = 0;

  // Inbound: counted frames received, and those waiting for their task.
  std::uint64_t received = 0;
  std::deque<Inbound> inbound;
  std::size_t inbound_bytes = 0;
  bool busy = false;  // a task for this session is running
  bool reading_paused = false;
  bool ending = false;  // the end is queued; nothing more is accepted
  net::Reason end_reason = net::Reason::session_expired;  // once ending
  bool ended = false;
};

}  // namespace starhold::session
