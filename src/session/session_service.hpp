// The session service: network listeners, logins, live sessions, ordered
// inbound messages and commit-released outbound messages.
//
// Threads. Network threads each run an io_context; a connection stays on one.
// Workers run session tasks and call back when a task's commit is accepted,
// which starts the session's next message (so message k+1 starts only after
// message k committed). The committer runs on-commit hooks, which deliver
// outbound frames and apply logins and ends in commit order.
//
// Locks: sessions_mu_ (the maps), then a SessionState::mu, then a
// Connection's out_mu_ or the grace timers' mutex. Never the other way round.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/log.hpp"
#include "net/protocol.hpp"
#include "net/transport.hpp"
#include "session/attempt_limiter.hpp"
#include "session/expired_tokens.hpp"
#include "session/grace_timers.hpp"
#include "session/login_throttle.hpp"
#include "session/session_state.hpp"
#include "starhold/server.hpp"
#include "starhold/session.hpp"

namespace starhold::task {
class TaskService;
}

namespace starhold::channel {
class ChannelService;
}

namespace starhold::session {

class Connection;

struct SessionCounters {
  std::atomic<std::uint64_t> open{0}, accepted{0}, logins_ok{0}, logins_failed{0}, reconnects{0};
  std::atomic<std::uint64_t> received{0}, sent{0};
  std::array<std::atomic<std::uint64_t>, 32> disconnects{};
};

class SessionService {
 public:
  SessionService(const ServerOptions& options, task::TaskService& tasks, Log& log);
  ~SessionService();

  void set_channels(channel::ChannelService* channels) { channels_ = channels; }
  void set_app(std::shared_ptr<AppListener> app);
  void set_authenticator(std::shared_ptr<Authenticator> auth);
  std::future<void> set_password(std::string name, std::string password);

  // Ends sessions left by the last run, initializes a new world, opens the listeners.
  void start();
  // Closes listeners and connections (clients are told: shutdown). Sessions
  // stay in the store and are ended at the next start.
  void stop();
  std::uint16_t port(Server::Listener which) const;
  // Loads the certificate and key files again for new connections. Throws TlsError, UsageError.
  void reload_tls();

  // ---- From tasks (the public Session API) ----
  void send(Transaction& tx, Session session, std::string_view message);
  void disconnect(Transaction& tx, Session session);
  bool attached(std::uint64_t session);
  std::shared_ptr<SessionState> find(std::uint64_t session);
  // A frame for a session, after its commit (committer thread). Counted.
  void deliver(SessionState& state, const net::FramePtr& frame);
  std::uint32_t max_message_bytes() const noexcept { return options_.max_message_bytes; }

  // ---- From connections (network threads) ----
  bool connection_allowed(bool& over_limit);
  void connection_closed(bool over_limit);
  bool login_locked(const std::string& address);
  void authenticate(std::shared_ptr<Connection> conn, Credentials credentials);
  void reconnect(std::shared_ptr<Connection> conn, std::string token, std::uint64_t received);
  // RESUME: a login with a resume token instead of a password.
  void resume(std::shared_ptr<Connection> conn, std::string token);
  // Takes one RECONNECT attempt of conn's address; false past its limit.
  bool reconnect_allowed(const Connection& conn);
  // The calls below name the connection they come from; the service ignores
  // them unless it is the session's current connection (not one a
  // reconnect took the session from).
  // A counted frame from the client; false when it must stop reading.
  bool inbound(const std::shared_ptr<SessionState>& state, const Connection* from, Inbound in);
  void acknowledged(SessionState& state, const Connection* from, std::uint64_t received);
  void connection_lost(const std::shared_ptr<SessionState>& state, const Connection* conn);
  void logout(const std::shared_ptr<SessionState>& state, const Connection* from);

  SessionCounters& counters() noexcept { return counters_; }
  std::size_t throttle_entries() { return throttle_.entries(); }
  std::size_t active() {
    std::lock_guard lock(sessions_mu_);
    return sessions_.size();
  }
  const ServerOptions& options() const noexcept { return options_; }
  Log& log() noexcept { return log_; }

 private:
  struct LoginDecision;
  struct Listener {
    Server::Listener which;
    net::TransportKind kind;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    bool proxy_protocol = false;  // each connection starts with a PROXY v2 header
  };

  void open_listener(Server::Listener which, int port, net::TransportKind kind, bool proxy);
  void accept(Listener& l);
  // Reads a connection's PROXY header, then opens it under the address it names.
  void accept_proxied(Listener& l, boost::asio::io_context& io, boost::asio::ip::tcp::socket socket,
                      bool over_limit);
  void open_connection(Listener& l, boost::asio::io_context& io,
                       boost::asio::ip::tcp::socket socket, bool over_limit,
                       const std::string& address);
  boost::asio::io_context& next_io();
  void cleanup_stale_sessions();
  void initialize_world();
  // Runs the login task for identity. resuming: a RESUME whose token carries
  // that generation, which must still be the identity's.
  void begin_login(const std::shared_ptr<Connection>& conn, const std::string& identity,
                   std::optional<std::uint64_t> resuming = std::nullopt);
  // In a login task: reads the identity's resume-token generation into
  // generation; false if resuming names another one (revoked).
  bool resume_checks(Transaction& tx, const std::string& identity,
                     std::optional<std::uint64_t> resuming, std::uint64_t& generation);
  // Reads (or makes) the resume key, when resume tokens are on.
  void load_resume_key();
  void complete_login(const std::shared_ptr<Connection>& conn, const LoginDecision& d);
  // LOGIN_OK for a new session: its id, its reconnect token, the server's
  // grace period and replay budget, and a resume token for identity.
  net::FramePtr login_ok_frame(std::uint64_t session, const std::string& token,
                               const std::string& identity, std::uint64_t generation) const;
  void run_next(const std::shared_ptr<SessionState>& state);
  // On a network thread the task runs right there (TaskService::submit_here);
  // from within such a task, the next message is posted to run after it.
  void submit_inbound(const std::shared_ptr<SessionState>& state, Inbound in);
  // The io_context of the calling network thread; null on other threads.
  static thread_local boost::asio::io_context* network_io_;
  void end_session(const std::shared_ptr<SessionState>& state, bool graceful, net::Reason reason,
                   bool tell_client);
  // Queues the session's end; true if its task must be started (run_next).
  // REQUIRES: state.mu held.
  bool queue_end(SessionState& state, bool graceful, net::Reason reason, bool tell_client);
  void finish_end(const std::shared_ptr<SessionState>& state, net::Reason reason, bool tell_client);
  // Begins the grace period of a session that lost its connection; REQUIRES: state.mu held.
  void start_grace(const std::shared_ptr<SessionState>& state);
  void grace_expired(const std::shared_ptr<SessionState>& state, std::uint64_t ticket);
  // Drops replayed frames the client has; REQUIRES: state.mu held.
  void trim_replay(SessionState& state, std::uint64_t received);
  void forget(const std::shared_ptr<SessionState>& state);

  const ServerOptions& options_;
  task::TaskService& tasks_;
  Log& log_;
  channel::ChannelService* channels_ = nullptr;
  std::shared_ptr<AppListener> app_;
  std::shared_ptr<Authenticator> auth_;
  std::shared_ptr<net::TlsContext> tls_context();
  std::mutex tls_mu_;
  std::shared_ptr<net::TlsContext> tls_;  // guarded by tls_mu_; replaced by reload_tls
  std::string resume_key_;  // set by start() before the listeners open; read-only after

  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<
      std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>>
      work_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_io_{0};
  std::vector<std::unique_ptr<Listener>> listeners_;  // stable addresses: accepts refer to them
  std::array<std::uint16_t, 3> ports_{};
  std::unique_ptr<GraceTimers> grace_;  // on ios_[0]; declared after ios_, destroyed before them
  std::atomic<bool> running_{false};

  // Shared for find() (every delivery looks its session up), exclusive for
  // everything else; on a cache line of its own, apart from what it guards.
  alignas(64) std::shared_mutex sessions_mu_;
  alignas(
      64) std::unordered_map<std::uint64_t, std::shared_ptr<SessionState>> sessions_;  // guarded
  std::unordered_map<std::string, std::uint64_t> by_token_;                            // guarded
  ExpiredTokens expired_tokens_;                                                       // guarded
  std::vector<std::weak_ptr<Connection>> open_connections_;  // guarded; for stop()
  std::size_t swept_size_ = 0;                               // guarded

  LoginThrottle throttle_{options_};
  // The session clock (ServerOptions::session_clock, or the steady clock).
  std::chrono::steady_clock::time_point now() const;

  std::mutex reconnects_mu_;
  AttemptLimiter reconnect_attempts_;  // guarded by reconnects_mu_

  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> over_limit_{0};

  SessionCounters counters_;
};

}  // namespace starhold::session
