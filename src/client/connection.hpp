// One connection from a client to a server: resolving, connecting, the
// transport's own handshake, then frames both ways with heartbeat timing.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "net/protocol.hpp"
#include "net/transport.hpp"

namespace starhold::client {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

// Where and how to connect.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  net::TransportKind kind = net::TransportKind::tls;
  std::shared_ptr<net::TlsContext> tls;  // required for the TLS kinds
  std::string websocket_path = "/";
  // Limit on everything up to welcome(): connecting, the transport's
  // handshake and the server's WELCOME.
  std::chrono::milliseconds open_timeout{10000};
};

// A Connection reports to its listener until it is closed, by close() or by a
// failure; after that it reports nothing and only lets its pending operations
// finish, which keep it alive. Everything runs on the strand it was opened on.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The transport is open; frames may be sent.
    virtual void on_open(Connection& c) = 0;
    // A frame arrived; its body is valid during the call. May throw
    // net::ProtocolError, which fails the connection with that reason.
    virtual void on_frame(Connection& c, const net::Frame& frame) = 0;
    // Nothing was sent for a heartbeat interval: send a HEARTBEAT.
    virtual void on_idle(Connection& c) = 0;
    // The connection failed and is closed. reason is the protocol reason
    // code of a frame that broke the protocol, heartbeat_timeout after
    // three silent heartbeat intervals, or 0 for network errors and the
    // open timeout.
    virtual void on_lost(Connection& c, std::uint16_t reason, const std::string& message) = 0;
  };

  // Starts connecting to endpoint.
  static std::shared_ptr<Connection> open(const Strand& strand, Endpoint endpoint,
                                          std::weak_ptr<Listener> listener);

  // Use open().
  Connection(const Strand& strand, Endpoint endpoint, std::weak_ptr<Listener> listener);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a frame; frames go out in order once the transport is open.
  void send(net::FramePtr frame);
  // Applies the server's WELCOME: frames up to max_frame are accepted, the
  // open timeout ends, and heartbeat timing starts unless heartbeat is zero:
  // on_idle after heartbeat without sending, failure after three without
  // hearing anything.
  void welcome(std::uint32_t max_frame, std::chrono::milliseconds heartbeat);
  // Closes at once; queued frames are dropped and nothing more is reported.
  void close() noexcept;

 private:
  using Clock = std::chrono::steady_clock;

  void on_resolved(const net::ErrorCode& ec, const boost::asio::ip::tcp::resolver::results_type& r);
  void on_connected(const net::ErrorCode& ec);
  void on_handshake(const net::ErrorCode& ec);
  void read();
  void on_read(const net::ErrorCode& ec, std::size_t n);
  void write();
  void on_written(const net::ErrorCode& ec);
  void arm_timer(Clock::time_point at);
  void on_timer();
  void fail(std::uint16_t reason, const std::string& message);
  std::string where() const;

  Endpoint endpoint_;
  std::weak_ptr<Listener> listener_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;  // until the transport takes it
  std::unique_ptr<net::Transport> transport_;
  boost::asio::steady_timer timer_;
  net::FrameParser parser_;

  const char* step_ = "connection";  // what the opening waits for
  bool open_ = false;
  bool welcomed_ = false;
  bool closed_ = false;
  Clock::time_point open_deadline_;
  std::chrono::milliseconds heartbeat_{0};
  Clock::time_point last_sent_;
  Clock::time_point last_heard_;

  std::deque<net::FramePtr> queue_;
  bool writing_ = false;
  std::vector<net::FramePtr> in_flight_;  // owns the memory of buffers_
  std::vector<boost::asio::const_buffer> buffers_;
};

}  // namespace starhold::client
