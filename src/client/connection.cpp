#include "client/connection.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>

namespace starhold::client {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Read space offered to the transport per read.
constexpr std::size_t kReadChunk = 8 * 1024;
// Bytes gathered into one write (one WebSocket message); a larger frame goes alone.
constexpr std::size_t kWriteBatch = 64 * 1024;
// The frame limit until WELCOME: the protocol's default maximum.
constexpr std::uint32_t kDefaultMaxFrame = 65536;
constexpr int kSilentIntervals = 3;

}  // namespace

std::shared_ptr<Connection> Connection::open(const Strand& strand, Endpoint endpoint,
                                             std::weak_ptr<Listener> listener) {
  auto c = std::make_shared<Connection>(strand, std::move(endpoint), std::move(listener));
  c->open_deadline_ = Clock::now() + c->endpoint_.open_timeout;
  c->arm_timer(c->open_deadline_);
  c->step_ = "name resolution";
  c->resolver_.async_resolve(c->endpoint_.host, std::to_string(c->endpoint_.port),
                             [c](const net::ErrorCode& ec, const tcp::resolver::results_type& r) {
                               c->on_resolved(ec, r);
                             });
  return c;
}

Connection::Connection(const Strand& strand, Endpoint endpoint, std::weak_ptr<Listener> listener)
    : endpoint_(std::move(endpoint)),
      listener_(std::move(listener)),
      resolver_(strand),
      socket_(strand),
      timer_(strand),
      parser_(kDefaultMaxFrame) {}

std::string Connection::where() const {
  return fmt::format("{}:{} ({})", endpoint_.host, endpoint_.port,
                     net::transport_name(endpoint_.kind));
}

void Connection::on_resolved(const net::ErrorCode& ec, const tcp::resolver::results_type& r) {
  if (closed_) return;
  if (ec) return fail(0, fmt::format("cannot resolve {}: {}", endpoint_.host, ec.message()));
  step_ = "TCP connection";
  auto self = shared_from_this();
  asio::async_connect(
      socket_, r, [self](const net::ErrorCode& e, const tcp::endpoint&) { self->on_connected(e); });
}

void Connection::on_connected(const net::ErrorCode& ec) {
  if (closed_) return;
  if (ec) return fail(0, fmt::format("cannot connect to {}: {}", where(), ec.message()));
  try {
    transport_ = net::client_transport(endpoint_.kind, std::move(socket_), endpoint_.tls,
                                       endpoint_.host, endpoint_.websocket_path);
  } catch (const std::exception& e) {
    return fail(0, fmt::format("cannot set up the transport to {}: {}", where(), e.what()));
  }
  step_ = endpoint_.kind == net::TransportKind::tcp ? "connection" : "transport handshake";
  transport_->handshake(
      [self = shared_from_this()](const net::ErrorCode& e) { self->on_handshake(e); });
}

void Connection::on_handshake(const net::ErrorCode& ec) {
  if (closed_) return;
  if (ec) return fail(0, fmt::format("handshake with {} failed: {}", where(), ec.message()));
  step_ = "server's WELCOME";
  open_ = true;
  last_heard_ = Clock::now();
  read();
  if (!queue_.empty()) write();
  if (auto l = listener_.lock()) l->on_open(*this);
}

void Connection::send(net::FramePtr frame) {
  if (closed_) return;
  queue_.push_back(std::move(frame));
  last_sent_ = Clock::now();
  if (open_ && !writing_) write();
}

void Connection::welcome(std::uint32_t max_frame, std::chrono::milliseconds heartbeat) {
  parser_.set_max_frame(max_frame);
  welcomed_ = true;
  heartbeat_ = heartbeat;
  if (heartbeat_.count() > 0) {
    arm_timer(Clock::now() + heartbeat_);
  } else {
    timer_.cancel();
  }
}

void Connection::close() noexcept {
  if (closed_) return;
  closed_ = true;
  open_ = false;
  queue_.clear();
  timer_.cancel();
  resolver_.cancel();
  net::ErrorCode ignored;
  socket_.close(ignored);
  if (transport_) transport_->close();
}

void Connection::fail(std::uint16_t reason, const std::string& message) {
  if (closed_) return;
  close();
  if (auto l = listener_.lock()) l->on_lost(*this, reason, message);
}

// ---- Reading ----------------------------------------------------------------

void Connection::read() {
  std::size_t available = 0;
  char* space = parser_.prepare(kReadChunk, available);
  transport_->read_some(space, available,
                        [self = shared_from_this()](const net::ErrorCode& ec, std::size_t n) {
                          self->on_read(ec, n);
                        });
}

void Connection::on_read(const net::ErrorCode& ec, std::size_t n) {
  if (closed_) return;
  if (ec == asio::error::eof) return fail(0, fmt::format("{} closed the connection", where()));
  if (ec) return fail(0, fmt::format("connection to {} failed: {}", where(), ec.message()));
  parser_.commit(n);
  last_heard_ = Clock::now();
  auto listener = listener_.lock();
  if (!listener) return close();
  try {
    net::Frame frame;
    while (!closed_ && parser_.next(frame))
      listener->on_frame(*this, frame);
  } catch (const net::ProtocolError& e) {
    return fail(static_cast<std::uint16_t>(e.reason()),
                fmt::format("{} broke the protocol: {}", where(), e.what()));
  }
  if (!closed_) read();
}

// ---- Writing ----------------------------------------------------------------

void Connection::write() {
  in_flight_.clear();
  buffers_.clear();
  std::size_t bytes = 0;
  while (!queue_.empty() && (in_flight_.empty() || bytes + queue_.front()->size() <= kWriteBatch)) {
    bytes += queue_.front()->size();
    buffers_.emplace_back(queue_.front()->data(), queue_.front()->size());
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  writing_ = true;
  transport_->write(
      buffers_, [self = shared_from_this()](const net::ErrorCode& ec) { self->on_written(ec); });
}

void Connection::on_written(const net::ErrorCode& ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) return fail(0, fmt::format("sending to {} failed: {}", where(), ec.message()));
  if (!queue_.empty()) write();
}

// ---- Timing -----------------------------------------------------------------

// Each arm replaces the pending wait; a handler that was already queued finds
// the deadlines from the clock again, so a stale one only re-arms.
void Connection::arm_timer(Clock::time_point at) {
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](const net::ErrorCode& ec) {
    if (!ec) self->on_timer();
  });
}

void Connection::on_timer() {
  if (closed_) return;
  const auto now = Clock::now();
  if (!welcomed_) {
    if (now < open_deadline_) return arm_timer(open_deadline_);
    return fail(0, fmt::format("no {} from {} within {} ms", step_, where(),
                               endpoint_.open_timeout.count()));
  }
  if (heartbeat_.count() == 0) return;
  const auto silence_limit = kSilentIntervals * heartbeat_;
  if (now - last_heard_ >= silence_limit) {
    const auto silent_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_heard_).count();
    return fail(static_cast<std::uint16_t>(net::Reason::heartbeat_timeout),
                fmt::format("nothing heard from {} for {} ms", where(), silent_ms));
  }
  if (now - last_sent_ >= heartbeat_) {
    if (auto l = listener_.lock()) l->on_idle(*this);
    if (closed_) return;
  }
  auto next_beat = last_sent_ + heartbeat_;
  if (next_beat <= now) next_beat = now + heartbeat_;
  arm_timer(std::min(next_beat, last_heard_ + silence_limit));
}

}  // namespace starhold::client
