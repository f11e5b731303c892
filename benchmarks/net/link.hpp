// A client link of the load generator: one connection (plain TCP or TLS, on
// Asio, or plain WebSocket, on Beast) that says HELLO, logs in, then hands
// every frame to the workload.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/frames.hpp"

namespace netbench {

using tcp = asio::ip::tcp;
using TlsSocket = asio::ssl::stream<tcp::socket>;
// Plain WebSocket: frames travel in binary messages; each read takes what has
// come of the current message, each write sends the pending frames as one message.
using WsSocket = boost::beast::websocket::stream<tcp::socket>;

// One client connection over Stream (tcp::socket, TlsSocket or WsSocket).
// Lives on its io_context's thread: every member must be called there.
template <class Stream>
class Link : public std::enable_shared_from_this<Link<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsSocket>;
  static constexpr bool kWs = std::is_same_v<Stream, WsSocket>;

  struct Options {
    std::uint16_t port = 0;
    std::string name, password = "pw";
    // Not empty: log in with RESUME and this resume token instead of LOGIN.
    std::string resume_token;
    std::size_t read_chunk = 16384;
    // Acknowledge (HEARTBEAT with the count) every this many counted frames; 0: never.
    std::uint64_t ack_every = 64;
  };

  // Called once: logged in (true), or the login failed or the link closed first (false).
  std::function<void(bool ok)> on_login;
  // Every frame after LOGIN_OK but HEARTBEAT and DISCONNECT.
  std::function<void(std::uint8_t opcode, std::string_view body)> on_frame;

  template <class... StreamArgs>
  Link(asio::io_context& io, Options options, StreamArgs&&... stream_args)
      : options_(std::move(options)),
        stream_(io, std::forward<StreamArgs>(stream_args)...),
        reader_(options_.read_chunk) {
    if constexpr (kWs) {
      stream_.binary(true);
      stream_.auto_fragment(false);  // one WebSocket frame per message, as the server writes
    }
  }

  // Connects to 127.0.0.1:port (TLS handshake if kTls, WebSocket upgrade to
  // path "/" if kWs), then greets and logs in.
  void start();

  // Queues bytes (whole frames); writes coalesce while one is in flight.
  void send_bytes(std::string_view bytes);
  void send(std::uint8_t opcode, std::string_view body);

  // Sends HEARTBEAT with the count of counted frames received.
  void acknowledge();
  // Whether counted frames arrived since the last acknowledge().
  bool unacknowledged() const noexcept { return received_ != acknowledged_; }

  // Closes, noting why (for the report).
  void close_because(std::string why);
  void close();

  bool logged_in() const noexcept { return logged_in_; }
  // The resume token of the LOGIN_OK (empty before it, or if the server gave none).
  const std::string& resume_token() const noexcept { return resume_token_; }
  bool closed() const noexcept { return closed_; }
  std::uint64_t received() const noexcept { return received_; }
  // The server's DISCONNECT reason, or the local error, once closed.
  const std::string& why() const noexcept { return why_; }
  std::uint16_t disconnect_reason() const noexcept { return disconnect_reason_; }

 private:
  void greet();
  void read();
  void handle(std::uint8_t opcode, std::string_view body);
  void write();

  Options options_;
  Stream stream_;
  FrameReader reader_;
  std::string pending_, writing_buf_;
  bool writing_ = false, closed_ = false, logged_in_ = false;
  std::uint64_t received_ = 0;  // counted frames from the server
  std::uint64_t acknowledged_ = 0;
  std::string resume_token_;
  std::uint16_t disconnect_reason_ = 0;
  std::string why_;
};

// Compiled once, in link.cpp.
extern template class Link<tcp::socket>;
extern template class Link<TlsSocket>;
extern template class Link<WsSocket>;

}  // namespace netbench
