// The Starhold client library: what a game client or a bot links
// (target starhold::client) to talk to a Starhold server over the protocol
// of docs/protocol.md.
//
//   starhold::client::ClientOptions o;
//   o.port = 7700;
//   o.ca_file = "server-cert.pem";
//   starhold::client::Client c(o);
//   c.on_message = [](std::string_view m) { ... };
//   c.login("ana", "secret");
//
// Callbacks run on the client's io thread (its own, or the io_context the
// caller runs), one at a time; they must not block. Every other member may
// be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace starhold::client {

enum class Transport { tls, tcp, websocket, websocket_tls };

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  Transport transport = Transport::tls;
  // TLS: trust anchors (PEM) for the server's certificate. Empty with
  // verify_server: the system's trust store.
  std::string ca_file;
  // false accepts any certificate: for development only.
  bool verify_server = true;
  std::string websocket_path = "/";
  // After a lost connection, resume the session with its token (within the
  // server's grace period), resending what the server had not received. The
  // client keeps the rotated token of each RECONNECT_OK, and backs off when
  // the server limits its address's reconnect attempts.
  bool auto_reconnect = true;
  // When the server no longer has the session (it restarted, or the grace
  // period ran out), log in again with the resume token of the last
  // LOGIN_OK instead of the password: on_disconnected (reconnecting = true)
  // reports the lost session, then on_logged_in the new one, or
  // on_login_failed if the token is refused (then call login() again). A
  // server that stops (DISCONNECT shutdown) is retried like a lost connection.
  bool auto_resume = true;
  std::chrono::milliseconds reconnect_delay{200};  // doubles per failed attempt, up to 5 s
  int max_reconnect_attempts = 20;
  // Follow a server's REDIRECT to another host and port.
  bool follow_redirects = true;
  // Sent messages kept until the server acknowledges them, for resending
  // after a reconnect. Past this the oldest are dropped (a reconnect that
  // needs them then reports lost messages through on_disconnected).
  std::size_t resend_buffer_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds connect_timeout{10000};
};

// Why the client lost its connection or session.
struct DisconnectInfo {
  std::uint16_t reason = 0;   // a protocol reason code; 0 for a network error
  std::string message;        // readable explanation
  bool reconnecting = false;  // true: the client is resuming the session
};

class Client {
 public:
  // Runs its own io thread.
  explicit Client(ClientOptions options);
  // Uses io, which the caller runs (for many clients on one thread, as bots do).
  Client(boost::asio::io_context& io, ClientOptions options);
  // Closes the connection without logging out.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Set before login(). Each runs on the io thread.
  std::function<void(std::uint64_t session)> on_logged_in;
  std::function<void(std::uint16_t reason, const std::string& message)> on_login_failed;
  std::function<void(std::string_view message)> on_message;
  std::function<void(std::uint64_t channel, const std::string& name)> on_channel_joined;
  std::function<void(std::uint64_t channel)> on_channel_left;
  std::function<void(std::uint64_t channel, std::string_view message)> on_channel_message;
  // The connection is gone; info says whether the client is resuming it.
  std::function<void(const DisconnectInfo& info)> on_disconnected;
  // A lost connection was resumed: the session goes on, nothing lost.
  std::function<void()> on_reconnected;

  // Connects, completes the handshake and logs in. The outcome arrives
  // through on_logged_in or on_login_failed (or on_disconnected). Throws
  // std::length_error if name or password is over 65,535 bytes; a LOGIN
  // frame over the server's maximum ends through on_disconnected
  // (frame_too_large).
  void login(std::string name, std::string password);
  // Queues a message for the session's listener. Messages sent before the
  // login completes are sent after it, in order. Throws std::length_error if
  // its frame (1 + size bytes) exceeds the server's maximum frame (before
  // the first WELCOME, 65,535 bytes is assumed).
  void send(std::string_view message);
  // Queues a message on a channel this session was told it joined. Throws
  // std::length_error as send() does, for a frame of 9 + size bytes.
  void send_channel(std::uint64_t channel, std::string_view message);
  // Ends the session; on_disconnected follows with reason logged_out.
  void logout();
  // Drops the connection at once, without logging out (the server keeps the
  // session for its grace period). No reconnect follows.
  void close();
  // Drops the connection as a network failure would, to test or force a
  // reconnect; with auto_reconnect the client then resumes the session.
  void drop_connection();

  bool logged_in() const;
  std::uint64_t session() const;  // 0 before login

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace starhold::client
