#include "session/connection.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "session/session_service.hpp"
#include "session/session_state.hpp"

namespace starhold::session {
namespace asio = boost::asio;
using net::Op;
using net::Reason;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kKeptQueue = 4;  // frame pointers an idle connection keeps room for
constexpr auto kCloseLinger = std::chrono::seconds(1);

bool is_abuse(Reason r) {
  switch (r) {
    case Reason::malformed_frame:
    case Reason::frame_too_large:
    case Reason::unknown_opcode:
    case Reason::not_logged_in:
    case Reason::too_many_attempts:
    case Reason::flood:
    case Reason::slow_reader:
    case Reason::heartbeat_timeout:
    case Reason::handshake_timeout:
    case Reason::protocol_version:
      return true;
    default:
      return false;
  }
}

}  // namespace

Connection::Connection(SessionService& service, asio::io_context& io,
                       std::unique_ptr<net::Transport> transport, bool over_limit)
    : service_(service),
      io_(io),
      transport_(std::move(transport)),
      kind_(transport_->kind()),
      address_(transport_->remote_address()),
      over_limit_(over_limit),
      parser_(net::kPreWelcomeMaxFrame),
      timer_(io) {}

Connection::~Connection() = default;

void Connection::start() {
  opened_ = last_heard_ = last_sent_ = tokens_at_ = Clock::now();
  tokens_ = 2.0 * service_.options().max_message_rate;
  tick();
  transport_->handshake([self = shared_from_this()](net::ErrorCode ec) {
    if (self->phase_ != Phase::handshake) return;
    if (ec) {
      self->service_.log().debug("connection from {} ({}) failed its handshake: {}", self->address_,
                                 net::transport_name(self->kind_), ec.message());
      self->close_now();
      return;
    }
    self->phase_ = Phase::hello;
    if (self->over_limit_) {
      self->disconnect(Reason::server_full, "the server is at its connection limit");
      return;
    }
    self->wait_readable();
  });
}

// ---- Reading ---------------------------------------------------------------

void Connection::wait_readable() {
  if (reading_ || paused_ || phase_ >= Phase::closing) return;
  reading_ = true;
  transport_->wait_readable([self = shared_from_this()](net::ErrorCode ec) {
    self->reading_ = false;
    if (self->phase_ >= Phase::closing) return;
    if (ec) {
      self->close_now();
      return;
    }
    self->read();
  });
}

void Connection::read() {
  std::size_t available = 0;
  char* buf = parser_.prepare(kReadChunk, available);
  reading_ = true;
  transport_->read_some(buf, available,
                        [self = shared_from_this()](net::ErrorCode ec, std::size_t n) {
                          self->reading_ = false;
                          if (self->phase_ >= Phase::closing) return;
                          if (ec) {
                            self->close_now();
                            return;
                          }
                          self->parser_.commit(n);
                          self->last_heard_ = Clock::now();
                          self->resume_reading();
                        });
}

void Connection::resume_reading() {
  if (!io_.get_executor().running_in_this_thread()) {
    post_self(&Connection::resume_reading);
    return;
  }
  paused_ = false;
  try {
    net::Frame frame;
    while (!paused_ && phase_ < Phase::closing && parser_.next(frame))
      handle(frame);
  } catch (const net::ProtocolError& e) {
    disconnect(e.reason(), e.what());
    return;
  }
  // A read still in flight owns the parser's buffer (WebSocket reads are
  // always in flight); keep it then.
  if (!reading_) parser_.shrink_if_empty();
  wait_readable();
}

void Connection::pause_reading() {
  if (!io_.get_executor().running_in_this_thread()) {
    post_self(&Connection::pause_reading);
    return;
  }
  paused_ = true;
}

void Connection::post_self(void (Connection::*fn)()) {
  asio::post(io_, [self = shared_from_this(), fn] { ((*self).*fn)(); });
}

void Connection::handle(const net::Frame& frame) {
  net::BodyReader body(frame.body);
  const auto op = static_cast<std::uint8_t>(frame.op);
  if (!net::is_known_op(op)) {
    throw net::ProtocolError(Reason::unknown_opcode, fmt::format("unknown opcode {:#04x}", op));
  }
  switch (phase_) {
    case Phase::hello:
      if (frame.op != Op::hello) {
        throw net::ProtocolError(Reason::protocol_version,
                                 fmt::format("expected HELLO, got {}", net::op_name(frame.op)));
      }
      on_hello(body);
      return;
    case Phase::login:
    case Phase::authenticating:
      if (frame.op == Op::heartbeat) return on_heartbeat(body);
      if (phase_ == Phase::login && frame.op == Op::login) return on_login(body);
      if (phase_ == Phase::login && frame.op == Op::reconnect) return on_reconnect(body);
      if (phase_ == Phase::login && frame.op == Op::resume) return on_resume(body);
      if (frame.op == Op::session_message || frame.op == Op::channel_message ||
          frame.op == Op::logout) {
        throw net::ProtocolError(Reason::not_logged_in,
                                 fmt::format("{} before login", net::op_name(frame.op)));
      }
      break;
    case Phase::session:
      switch (frame.op) {
        case Op::session_message:
        case Op::channel_message:
          return on_counted(frame);
        case Op::heartbeat:
          return on_heartbeat(body);
        case Op::logout:
          body.done();
          // Read no more; the session's end (a task) sends LOGOUT_OK and closes.
          begin_closing(service_.options().handshake_timeout);
          service_.logout(session_, this);
          return;
        default:
          break;
      }
      break;
    default:
      return;
  }
  throw net::ProtocolError(Reason::unknown_opcode,
                           fmt::format("{} is not accepted here", net::op_name(frame.op)));
}

void Connection::on_hello(net::BodyReader& body) {
  const std::uint32_t magic = body.u32();
  const std::uint16_t version = body.u16();
  body.done();
  if (magic != net::kMagic || version != net::kVersion) {
    disconnect(Reason::protocol_version,
               fmt::format("this server speaks protocol {} (got magic {:#010x}, version {})",
                           net::kVersion, magic, version));
    return;
  }
  const auto& o = service_.options();
  parser_.set_max_frame(o.max_message_bytes);
  phase_ = Phase::login;
  send(net::FrameWriter(Op::welcome)
           .u16(net::kVersion)
           .u32(o.max_message_bytes)
           .u32(static_cast<std::uint32_t>(o.heartbeat_interval.count()))
           .share());
}

void Connection::on_login(net::BodyReader& body) {
  Credentials c;
  c.name = std::string(body.str());
  c.password = std::string(body.str());
  body.done();
  c.address = address_;
  if (service_.login_locked(address_)) {
    disconnect(Reason::too_many_attempts,
               fmt::format("too many failed logins from {}; try again later", address_));
    return;
  }
  phase_ = Phase::authenticating;
  service_.authenticate(shared_from_this(), std::move(c));
}

void Connection::login_failed(Reason reason, const std::string& message, bool then_close) {
  asio::post(io_, [self = shared_from_this(), reason, message, then_close] {
    if (self->phase_ >= Phase::closing) return;
    self->send(net::FrameWriter(Op::login_failed)
                   .u16(static_cast<std::uint16_t>(reason))
                   .text(message)
                   .share());
    if (then_close) {
      self->disconnect(reason, message);
    } else {
      self->phase_ = Phase::login;
      self->resume_reading();
    }
  });
}

void Connection::on_reconnect(net::BodyReader& body) {
  std::string token(body.blob());
  const std::uint64_t received = body.u64();
  body.done();
  phase_ = Phase::authenticating;
  service_.reconnect(shared_from_this(), std::move(token), received);
}

void Connection::on_resume(net::BodyReader& body) {
  std::string token(body.blob());
  body.done();
  phase_ = Phase::authenticating;
  service_.resume(shared_from_this(), std::move(token));
}

void Connection::attach(std::shared_ptr<SessionState> state) {
  if (phase_ == Phase::closed) {
    service_.connection_lost(state, this);  // it went away while logging in
    return;
  }
  session_ = std::move(state);
  if (phase_ >= Phase::closing) return;  // closing reports the loss
  phase_ = Phase::session;
  resume_reading();
}

void Connection::reconnect_failed(Reason reason, const std::string& message) {
  asio::post(io_, [self = shared_from_this(), reason, message] {
    if (self->phase_ >= Phase::closing) return;
    self->send(net::FrameWriter(Op::reconnect_failed)
                   .u16(static_cast<std::uint16_t>(reason))
                   .text(message)
                   .share());
    self->phase_ = Phase::login;
    self->resume_reading();
  });
}

void Connection::on_counted(const net::Frame& frame) {
  if (!take_token()) {
    throw net::ProtocolError(Reason::flood, fmt::format("more than {} messages a second",
                                                        service_.options().max_message_rate));
  }
  Inbound in;
  net::BodyReader body(frame.body);
  if (frame.op == Op::channel_message) {
    in.kind = Inbound::Kind::channel_message;
    in.channel = body.u64();
  }
  in.data = std::string(body.rest());
  if (!service_.inbound(session_, this, std::move(in))) {
    paused_ = true;
    service_.log().debug("stops reading from {} (session {}): its inbound queue is full", address_,
                         session_->id);
  }
}

bool Connection::take_token() {
  const std::uint32_t rate = service_.options().max_message_rate;
  if (rate == 0) return true;
  const auto now = Clock::now();
  tokens_ = std::min(2.0 * rate,
                     tokens_ + std::chrono::duration<double>(now - tokens_at_).count() * rate);
  tokens_at_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void Connection::on_heartbeat(net::BodyReader& body) {
  const std::uint64_t received = body.u64();
  body.done();
  if (session_) service_.acknowledged(*session_, this, received);
}

// ---- Writing ---------------------------------------------------------------

void Connection::send(net::FramePtr frame) {
  bool post = false, slow = false;
  {
    std::lock_guard lock(out_mu_);
    if (closing_) return;
    queued_bytes_ += frame->size();
    queued_.push_back(std::move(frame));
    slow = queued_bytes_ > service_.options().outbound_buffer_bytes;
    if (slow) closing_ = true;
    post = !flush_posted_;
    flush_posted_ = true;
  }
  if (slow) {
    asio::post(io_, [self = shared_from_this()] {
      self->close_after_write_ = false;
      self->disconnect(Reason::slow_reader, "the client did not read what it was sent");
    });
    return;
  }
  if (post) post_self(&Connection::flush);
}

void Connection::flush() {
  if (writing_ || phase_ == Phase::closed) return;
  {
    std::lock_guard lock(out_mu_);
    flush_posted_ = false;
    if (queued_.empty()) return;
    in_flight_.swap(queued_);
  }
  buffers_.clear();
  for (const auto& f : in_flight_)
    buffers_.emplace_back(f->data(), f->size());
  writing_ = true;
  transport_->write(buffers_,
                    [self = shared_from_this()](net::ErrorCode ec) { self->on_written(ec); });
}

void Connection::on_written(net::ErrorCode ec) {
  writing_ = false;
  std::size_t bytes = 0;
  for (const auto& f : in_flight_)
    bytes += f->size();
  in_flight_.clear();
  buffers_.clear();
  bool more = false;
  {
    std::lock_guard lock(out_mu_);
    queued_bytes_ -= std::min(bytes, queued_bytes_);
    more = !queued_.empty();
    // Idle connections keep at most a few pointers' worth of queue, so that
    // one frame at a time costs no allocation.
    if (!more && queued_.capacity() > kKeptQueue) std::vector<net::FramePtr>().swap(queued_);
    if (in_flight_.capacity() > kKeptQueue) std::vector<net::FramePtr>().swap(in_flight_);
  }
  if (ec) {
    close_now();
    return;
  }
  last_sent_ = Clock::now();
  if (more) {
    flush();
  } else if (close_after_write_) {
    close_now();
  }
}

// ---- Closing ---------------------------------------------------------------

void Connection::close(Reason reason, std::string message) {
  asio::post(io_, [self = shared_from_this(), reason, message = std::move(message)] {
    self->disconnect(reason, message);
  });
}

void Connection::send_and_close(net::FramePtr frame, Reason logged_reason) {
  asio::post(io_, [self = shared_from_this(), frame = std::move(frame), logged_reason]() mutable {
    if (self->phase_ == Phase::closed) return;
    self->service_.counters().disconnects[static_cast<std::size_t>(logged_reason) % 32].fetch_add(
        1);
    self->send(std::move(frame));
    {
      std::lock_guard lock(self->out_mu_);
      self->closing_ = true;
    }
    self->begin_closing(kCloseLinger);
    self->close_after_write_ = true;
    if (!self->writing_) self->flush();
  });
}

void Connection::drop() {
  asio::post(io_, [self = shared_from_this()] {
    self->session_.reset();  // taken over: the session is not lost
    self->close_now();
  });
}

void Connection::disconnect(Reason reason, const std::string& message) {
  if (phase_ >= Phase::closing) return;
  const std::string who = session_
                              ? fmt::format(" (session {} '{}')", session_->id, session_->identity)
                              : std::string();
  service_.log().write(is_abuse(reason) ? LogLevel::warn : LogLevel::info,
                       "disconnecting {} ({}){}: {}: {}", address_, net::transport_name(kind_), who,
                       net::reason_name(reason), message);
  service_.counters().disconnects[static_cast<std::size_t>(reason) % 32].fetch_add(1);
  auto frame = net::FrameWriter(Op::disconnect)
                   .u16(static_cast<std::uint16_t>(reason))
                   .text(message)
                   .share();
  {
    std::lock_guard lock(out_mu_);
    if (reason == Reason::slow_reader) {
      queued_.clear();  // it does not read: do not wait for it
      queued_bytes_ = 0;
    }
    queued_bytes_ += frame->size();
    queued_.push_back(std::move(frame));
    closing_ = true;
  }
  begin_closing(kCloseLinger);
  close_after_write_ = true;
  if (reason == Reason::slow_reader) {
    close_now();
    return;
  }
  if (!writing_) flush();
}

void Connection::begin_closing(Clock::duration linger) {
  if (phase_ >= Phase::closing) return;
  phase_ = Phase::closing;
  close_deadline_ = Clock::now() + linger;
}

void Connection::close_now() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  {
    std::lock_guard lock(out_mu_);
    closing_ = true;
    queued_.clear();
  }
  timer_.cancel();
  transport_->close();
  if (session_) {
    service_.connection_lost(session_, this);
    session_.reset();
  }
  service_.connection_closed(over_limit_);
}

// ---- Timers ----------------------------------------------------------------

void Connection::tick() {
  const auto& o = service_.options();
  const auto period =
      std::max<Clock::duration>(o.heartbeat_interval / 2, std::chrono::milliseconds(10));
  timer_.expires_after(std::min<Clock::duration>(period, o.handshake_timeout));
  timer_.async_wait([self = shared_from_this()](net::ErrorCode ec) {
    if (ec || self->phase_ == Phase::closed) return;
    const auto now = Clock::now();
    const auto& opts = self->service_.options();
    if (self->phase_ == Phase::closing) {
      if (now > self->close_deadline_) self->close_now();
    } else if (self->phase_ < Phase::session && now - self->opened_ > opts.handshake_timeout) {
      self->disconnect(Reason::handshake_timeout, "no login in time");
    } else if (now - self->last_heard_ > 3 * opts.heartbeat_interval) {
      self->disconnect(Reason::heartbeat_timeout, "nothing heard for three heartbeat intervals");
    } else if (self->phase_ == Phase::session &&
               now - self->last_sent_ >= opts.heartbeat_interval) {
      std::uint64_t received = 0;
      {
        std::lock_guard lock(self->session_->mu);
        received = self->session_->received;
      }
      self->last_sent_ = now;
      self->send(net::FrameWriter(Op::heartbeat).u64(received).share());
    }
    if (self->phase_ != Phase::closed) self->tick();
  });
}

}  // namespace starhold::session
