// The baselines of the echo and memory workloads: a server on raw Asio that
// speaks the same framing with no tasks and no store, over plain TCP, over
// TLS (asio::ssl::stream, as a hand-written Asio game server would use), or
// over plain WebSocket (Beast's websocket::stream, binary messages).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

namespace netbench {

// The raw server's certificate chain and private key (PEM files).
struct RawTlsFiles {
  std::string certificate, private_key;
};

// Selects the raw server's plain WebSocket mode.
struct RawWebSocket {};

// HELLO gets WELCOME, LOGIN gets LOGIN_OK (no password check), a
// SESSION_MESSAGE comes straight back; between frames each connection keeps
// one read pending into its own buffer of read_chunk bytes. One thread
// (named "raw-echo"), as Starhold's network runs on one. Listens on 127.0.0.1
// from construction; throws if the TLS files cannot be used; the destructor
// stops the thread. Over WebSocket it accepts the upgrade on any path, reads
// message bytes into the same frame reader, and writes what is pending as one
// binary message.
class RawEchoServer {
 public:
  explicit RawEchoServer(std::optional<RawTlsFiles> tls = std::nullopt,
                         std::size_t read_chunk = 16384);
  explicit RawEchoServer(RawWebSocket, std::size_t read_chunk = 16384);
  ~RawEchoServer();
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // LOGIN_OKs sent so far; any thread.
  std::uint64_t logins() const noexcept { return logins_.load(std::memory_order_relaxed); }

 private:
  template <class Stream>
  class Conn;
  void accept();
  void run();

  std::optional<boost::asio::ssl::context> tls_;
  bool websocket_ = false;
  std::size_t read_chunk_;
  std::atomic<std::uint64_t> logins_{0};
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint64_t accepted_ = 0;
  std::thread thread_;
};

}  // namespace netbench
