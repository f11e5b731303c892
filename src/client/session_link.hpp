// A client's session with a server, kept across connections: the client side
// of the conversation in docs/protocol.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "client/connection.hpp"
#include "client/resend_buffer.hpp"
#include "starhold/client.hpp"

namespace starhold::client {

// A Client's callbacks, copied from it by login().
struct Callbacks {
  std::function<void(std::uint64_t)> on_logged_in;
  std::function<void(std::uint16_t, const std::string&)> on_login_failed;
  std::function<void(std::string_view)> on_message;
  std::function<void(std::uint64_t, const std::string&)> on_channel_joined;
  std::function<void(std::uint64_t)> on_channel_left;
  std::function<void(std::uint64_t, std::string_view)> on_channel_message;
  std::function<void(const DisconnectInfo&)> on_disconnected;
  std::function<void()> on_reconnected;
};

// The protocol state machine. The members marked "any thread" may be called
// from any thread; every other member runs on strand() only (the Client posts
// to it), and so do the callbacks, one at a time. Owned by the Client and by
// its pending operations.
//
//   idle ──login()──▶ opening ──WELCOME──▶ logging_in ──LOGIN_OK──▶ in_session
//   logging_in ──LOGIN_FAILED──▶ login_failed ──login()──▶ logging_in
//   logging_in ──REDIRECT──▶ opening (the new address)
//   in_session ──lost──▶ backing_off ──delay──▶ opening ──WELCOME──▶ resuming
//   resuming ──RECONNECT_OK──▶ in_session;  ──lost──▶ backing_off
//   resuming ──RECONNECT_FAILED──▶ renewing (RESUME sent, with a resume token) or idle
//   renewing ──LOGIN_OK──▶ in_session (a new session);  ──LOGIN_FAILED──▶ login_failed
//   renewing ──lost──▶ backing_off ──delay──▶ opening ──WELCOME──▶ renewing
//   backing_off ──attempts used up──▶ idle
//   in_session ──logout()──▶ logging_out ──LOGOUT_OK──▶ idle
//   any ──DISCONNECT, a loss that cannot be resumed──▶ idle
//   any ──close()──▶ idle (no callback)
class SessionLink final : public Connection::Listener,
                          public std::enable_shared_from_this<SessionLink> {
 public:
  // tls is required for the TLS transports.
  SessionLink(const Strand& strand, ClientOptions options, std::shared_ptr<net::TlsContext> tls);

  const Strand& strand() const noexcept { return strand_; }

  // Uses callbacks from now on and logs in with the encoded LOGIN frame.
  // Reports already_logged_in through on_login_failed while a session or a
  // login is under way.
  void login(Callbacks callbacks, net::FramePtr login_frame);
  // Sends a counted frame (SESSION_MESSAGE or CHANNEL_MESSAGE), or keeps it
  // until the session starts or resumes. Ignored once logout() was called.
  void send(net::FramePtr frame);
  // Sends LOGOUT now, or once the session starts or resumes; on_disconnected
  // follows with logged_out when the server confirms.
  void logout();
  // Closes the connection and forgets the session and any unsent messages;
  // no callback follows.
  void close();
  // Closes the connection as a network failure would: the session resumes
  // when it can (auto_reconnect), or ends through on_disconnected.
  void drop_connection();

  // any thread. After it returns, no callback runs (it waits for a running
  // one unless called from one), and the link closes itself on its strand.
  void detach();

  // any thread. True from LOGIN_OK until the session ends, including while
  // the link resumes it after a lost connection.
  bool logged_in() const noexcept { return logged_in_.load(); }
  std::uint64_t session() const noexcept { return session_.load(); }
  // any thread. The server's maximum frame size, 0 before the first WELCOME.
  std::uint32_t max_frame() const noexcept { return max_frame_.load(); }

 private:
  enum class State {
    idle,          // no connection, no session
    opening,       // connecting, up to WELCOME; goal_ says what follows
    logging_in,    // LOGIN sent
    login_failed,  // LOGIN_FAILED received; the connection waits for login()
    resuming,      // RECONNECT sent
    renewing,      // RESUME sent: a new session with the resume token
    in_session,    // logged in
    logging_out,   // LOGOUT sent
    backing_off,   // the connection was lost; waiting to resume
  };
  enum class Goal { login, resume, renew };  // after WELCOME: LOGIN, RECONNECT or RESUME

  // Connection::Listener
  void on_open(Connection& c) override;
  void on_frame(Connection& c, const net::Frame& frame) override;
  void on_idle(Connection& c) override;
  void on_lost(Connection& c, std::uint16_t reason, const std::string& message) override;

  void on_welcome(net::BodyReader r);
  void on_login_ok(net::BodyReader r);
  void on_login_failed(net::BodyReader r);
  void on_redirect(net::BodyReader r);
  void on_reconnect_ok(net::BodyReader r);
  void on_reconnect_failed(net::BodyReader r);
  void on_counted(const net::Frame& frame);
  void on_heartbeat(net::BodyReader r);

  void connect();
  // Sends RESUME with the resume token.
  void send_resume();
  // Whether the link is getting back a lost session (RECONNECT or RESUME,
  // or waiting or connecting to send one).
  bool reconnecting() const noexcept;
  // Whether a loss for this reason may be retried (a network error, a
  // server restarting, a reconnect limit).
  bool worth_retrying(std::uint16_t reason) const noexcept;
  void send_counted(net::FramePtr frame);
  void send_heartbeat();
  void send_logout();
  // Counts a counted frame received; acknowledges when enough are unacknowledged.
  void count_received(std::size_t body_bytes);
  void schedule_resume();
  // Throws net::ProtocolError(reason) unless the state is one of states.
  void expect(const net::Frame& frame, std::initializer_list<State> states,
              net::Reason reason = net::Reason::unknown_opcode) const;
  static const char* name(State s) noexcept;
  bool has_session_state() const noexcept;
  // Whether an encoded frame is within the server's maximum.
  bool fits(const std::string& frame) const noexcept;
  DisconnectInfo login_too_large() const;
  // The session or login attempt is over: closes, forgets the session, then
  // reports info.
  void end(const DisconnectInfo& info);
  // Closes the connection, stops resuming and forgets the session, silently.
  void stop();

  template <class F, class... Args>
  void emit(const F& callback, Args&&... args);

  Strand strand_;
  const ClientOptions options_;
  const std::shared_ptr<net::TlsContext> tls_;
  Callbacks callbacks_;
  std::mutex callback_mutex_;  // held while a callback runs
  std::atomic<bool> detached_{false};

  State state_ = State::idle;
  Goal goal_ = Goal::login;
  std::shared_ptr<Connection> connection_;
  std::string host_;  // where the next connection goes; a redirect changes it
  std::uint16_t port_ = 0;
  int redirects_ = 0;
  net::FramePtr login_frame_;
  std::deque<net::FramePtr> pending_;  // sent before the session started
  bool logout_requested_ = false;

  // The session.
  std::string token_;
  std::string resume_token_;              // from the last LOGIN_OK; empty if the server gave none
  std::uint32_t grace_ms_ = 0;            // how long the server keeps the session after a loss
  std::uint32_t acknowledge_bytes_ = 0;   // acknowledge after this many bytes (replay budget / 4)
  std::uint64_t received_ = 0;            // counted frames received since LOGIN_OK
  std::uint32_t unacknowledged_ = 0;      // of those, received since our last HEARTBEAT
  std::size_t unacknowledged_bytes_ = 0;  // and their frames' bytes
  ResendBuffer resend_;

  // Resuming after a lost connection.
  boost::asio::steady_timer retry_timer_;
  // Acknowledging what was received, within kAcknowledgeWithin.
  boost::asio::steady_timer ack_timer_;
  bool ack_pending_ = false;
  int attempts_ = 0;
  std::chrono::milliseconds delay_;
  std::string last_error_;

  std::atomic<bool> logged_in_{false};
  std::atomic<std::uint64_t> session_{0};
  std::atomic<std::uint32_t> max_frame_{0};
};

}  // namespace starhold::client
