// One client connection: the protocol's state machine over a Transport.
//
// Everything but the thread-safe calls marked below runs on the connection's
// io_context thread. The read loop waits for readability before it takes a
// read buffer, and releases the buffer when it holds no partial frame, so an
// idle connection holds no I/O buffers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/protocol.hpp"
#include "net/transport.hpp"

namespace starhold::session {

class SessionService;
struct SessionState;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(SessionService& service, boost::asio::io_context& io,
             std::unique_ptr<net::Transport> transport, bool over_limit);
  ~Connection();

  void start();

  // ---- Thread-safe ----
  // Queues a frame. Past the outbound budget the client is a slow reader.
  void send(net::FramePtr frame);
  // Sends DISCONNECT(reason, message), logs it, counts it and closes.
  void close(net::Reason reason, std::string message);
  // Sends frame and closes once it is written (LOGOUT_OK, REDIRECT).
  void send_and_close(net::FramePtr frame, net::Reason logged_reason);
  // Closes without a word (taken over by a reconnect).
  void drop();
  void pause_reading();
  void resume_reading();
  // Runs on the io thread: the login succeeded or resumed; this connection now serves state.
  void attach(std::shared_ptr<SessionState> state);
  // The login failed; the client may try again (or is told to go).
  void login_failed(net::Reason reason, const std::string& message, bool then_close);
  // RECONNECT was refused; the client may log in instead.
  void reconnect_failed(net::Reason reason, const std::string& message);

  boost::asio::io_context& executor() noexcept { return io_; }

  const std::string& address() const noexcept { return address_; }
  net::TransportKind kind() const noexcept { return kind_; }

 private:
  enum class Phase { handshake, hello, login, authenticating, session, closing, closed };

  void wait_readable();
  void read();
  void handle(const net::Frame& frame);
  void on_hello(net::BodyReader& body);
  void on_login(net::BodyReader& body);
  void on_reconnect(net::BodyReader& body);
  void on_resume(net::BodyReader& body);
  void on_counted(const net::Frame& frame);
  void on_heartbeat(net::BodyReader& body);
  void flush();
  void on_written(net::ErrorCode ec);
  void begin_closing(std::chrono::steady_clock::duration linger);
  void disconnect(net::Reason reason, const std::string& message);
  void close_now();
  void tick();
  bool take_token();
  void post_self(void (Connection::*fn)());

  SessionService& service_;
  boost::asio::io_context& io_;
  std::unique_ptr<net::Transport> transport_;
  const net::TransportKind kind_;
  const std::string address_;
  const bool over_limit_;
  net::FrameParser parser_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point opened_, last_heard_, last_sent_, close_deadline_;
  std::shared_ptr<SessionState> session_;  // once logged in
  Phase phase_ = Phase::handshake;
  bool reading_ = false;  // a wait or read is outstanding
  bool paused_ = false;
  bool writing_ = false;
  bool close_after_write_ = false;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_;
  std::vector<net::FramePtr> in_flight_;  // being written
  std::vector<boost::asio::const_buffer> buffers_;

  // Guarded by out_mu_: frames queued from any thread.
  std::mutex out_mu_;
  std::vector<net::FramePtr> queued_;
  std::size_t queued_bytes_ = 0;
  bool flush_posted_ = false;
  bool closing_ = false;  // no more frames accepted
};

}  // namespace starhold::session
