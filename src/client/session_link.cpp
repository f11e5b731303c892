#include "client/session_link.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

namespace starhold::client {
namespace asio = boost::asio;
using net::BodyReader;
using net::FrameWriter;
using net::Op;
using net::ProtocolError;
using net::Reason;

namespace {

constexpr int kMaxRedirects = 8;
// A HEARTBEAT acknowledges this many counted frames received without one,
// or this fraction of the server's replay budget, whichever comes first, and
// anything received at the latest this long after it arrived, so that the
// server keeps little for a client with light traffic.
constexpr std::uint32_t kAcknowledgeEvery = 64;
constexpr std::uint32_t kAcknowledgeBudgetShare = 4;
constexpr std::chrono::milliseconds kAcknowledgeWithin{1000};
constexpr std::chrono::milliseconds kMaxReconnectDelay{5000};

std::uint16_t code(Reason r) {
  return static_cast<std::uint16_t>(r);
}

net::TransportKind kind_of(Transport t) {
  switch (t) {
    case Transport::tls:
      return net::TransportKind::tls;
    case Transport::tcp:
      return net::TransportKind::tcp;
    case Transport::websocket:
      return net::TransportKind::websocket;
    case Transport::websocket_tls:
      return net::TransportKind::websocket_tls;
  }
  throw std::invalid_argument("unknown starhold::client::Transport");
}

}  // namespace

SessionLink::SessionLink(const Strand& strand, ClientOptions options,
                         std::shared_ptr<net::TlsContext> tls)
    : strand_(strand),
      options_(std::move(options)),
      tls_(std::move(tls)),
      resend_(options_.resend_buffer_bytes),
      retry_timer_(strand),
      ack_timer_(strand),
      delay_(options_.reconnect_delay) {}

template <class F, class... Args>
void SessionLink::emit(const F& callback, Args&&... args) {
  if (!callback) return;
  std::lock_guard lock(callback_mutex_);
  if (!detached_) callback(std::forward<Args>(args)...);
}

const char* SessionLink::name(State s) noexcept {
  switch (s) {
    case State::idle:
      return "not connected";
    case State::opening:
      return "connecting";
    case State::logging_in:
      return "logging in";
    case State::login_failed:
      return "waiting after a failed login";
    case State::resuming:
      return "resuming its session";
    case State::renewing:
      return "logging in again with its resume token";
    case State::in_session:
      return "logged in";
    case State::logging_out:
      return "logging out";
    case State::backing_off:
      return "waiting to reconnect";
  }
  return "?";
}

// ---- Requests from the Client -----------------------------------------------

void SessionLink::login(Callbacks callbacks, net::FramePtr login_frame) {
  if (state_ != State::idle && state_ != State::login_failed) {
    return emit(callbacks_.on_login_failed, code(Reason::already_logged_in),
                std::string("login() was called while a session or a login is under way"));
  }
  callbacks_ = std::move(callbacks);
  login_frame_ = std::move(login_frame);
  if (state_ == State::login_failed) {
    if (!fits(*login_frame_)) return end(login_too_large());
    state_ = State::logging_in;
    connection_->send(login_frame_);
    return;
  }
  host_ = options_.host;
  port_ = options_.port;
  redirects_ = 0;
  logout_requested_ = false;
  goal_ = Goal::login;
  connect();
}

void SessionLink::send(net::FramePtr frame) {
  if (logout_requested_) return;
  switch (state_) {
    case State::in_session:
      return send_counted(std::move(frame));
    case State::resuming:
      return resend_.push(std::move(frame));  // resent after RECONNECT_OK
    case State::backing_off:
    case State::opening:
      if (goal_ == Goal::resume) return resend_.push(std::move(frame));
      break;
    default:
      break;
  }
  pending_.push_back(std::move(frame));
}

void SessionLink::logout() {
  switch (state_) {
    case State::idle:
    case State::logging_out:
      return;
    case State::in_session:
      return send_logout();
    case State::login_failed:
      return end({code(Reason::logged_out), "logged out", false});
    default:
      logout_requested_ = true;  // acted on when the session starts or resumes
  }
}

void SessionLink::close() {
  stop();
  pending_.clear();
}

void SessionLink::drop_connection() {
  if (!connection_) return;
  auto c = connection_;
  c->close();
  on_lost(*c, 0, "the connection was dropped by drop_connection()");
}

void SessionLink::detach() {
  if (strand_.running_in_this_thread()) {
    detached_ = true;  // no other callback of this link can be running
  } else {
    std::lock_guard lock(callback_mutex_);
    detached_ = true;
  }
  asio::post(strand_, [self = shared_from_this()] { self->close(); });
}

// ---- Events from the connection ---------------------------------------------

void SessionLink::on_open(Connection& c) {
  if (&c != connection_.get()) return;
  FrameWriter hello(Op::hello, 6);
  hello.u32(net::kMagic).u16(net::kVersion);
  c.send(hello.share());
}

void SessionLink::on_frame(Connection& c, const net::Frame& frame) {
  if (&c != connection_.get()) return;
  BodyReader r(frame.body);
  switch (frame.op) {
    case Op::welcome:
      expect(frame, {State::opening});
      return on_welcome(r);
    case Op::login_ok:
      expect(frame, {State::logging_in, State::renewing});
      return on_login_ok(r);
    case Op::login_failed:
      expect(frame, {State::logging_in, State::renewing});
      return on_login_failed(r);
    case Op::redirect:
      expect(frame, {State::logging_in, State::resuming, State::renewing});
      return on_redirect(r);
    case Op::reconnect_ok:
      expect(frame, {State::resuming});
      return on_reconnect_ok(r);
    case Op::reconnect_failed:
      expect(frame, {State::resuming});
      return on_reconnect_failed(r);
    case Op::session_message:
    case Op::channel_joined:
    case Op::channel_left:
    case Op::channel_message:
      expect(frame, {State::in_session, State::logging_out}, Reason::not_logged_in);
      return on_counted(frame);
    case Op::heartbeat:
      return on_heartbeat(r);
    case Op::logout_ok:
      expect(frame, {State::logging_out});
      r.done();
      return end({code(Reason::logged_out), "logged out", false});
    case Op::disconnect: {
      const auto reason = r.u16();
      std::string message(r.str());
      r.done();
      if (reason == code(Reason::too_many_attempts) || reason == code(Reason::shutdown)) {
        // Perhaps worth another try later (on_lost decides): a reconnect
        // limit leaves the session untouched; a restarted server accepts
        // the resume token.
        const auto keep = connection_;
        c.close();
        return on_lost(c, reason, message);
      }
      return end({reason, std::move(message), false});
    }
    default:
      break;
  }
  throw ProtocolError(Reason::unknown_opcode,
                      fmt::format("the server sent opcode 0x{:02x}, which it may not send",
                                  static_cast<unsigned>(frame.op)));
}

void SessionLink::on_idle(Connection& c) {
  if (&c == connection_.get()) send_heartbeat();
}

void SessionLink::on_lost(Connection& c, std::uint16_t reason, const std::string& message) {
  if (&c != connection_.get()) return;
  connection_.reset();
  last_error_ = message;
  const bool resumable = worth_retrying(reason) && options_.auto_reconnect &&
                         options_.max_reconnect_attempts > 0 &&
                         (state_ == State::in_session || reconnecting());
  if (!resumable) {
    if (state_ == State::logging_out) {
      return end({reason,
                  "the connection was lost before the server confirmed the logout: " + message,
                  false});
    }
    return end({reason, message, false});
  }
  if (state_ == State::in_session) {
    emit(callbacks_.on_disconnected, DisconnectInfo{reason, message, true});
  }
  schedule_resume();
}

// ---- Frames from the server -------------------------------------------------

void SessionLink::on_welcome(BodyReader r) {
  const auto version = r.u16();
  const auto max_frame = r.u32();
  const auto heartbeat_ms = r.u32();
  r.done();
  if (version != net::kVersion) {
    throw ProtocolError(Reason::protocol_version,
                        fmt::format("the server speaks protocol version {}, this client {}",
                                    version, net::kVersion));
  }
  if (max_frame < net::kPreWelcomeMaxFrame) {
    throw ProtocolError(Reason::malformed_frame,
                        fmt::format("WELCOME announces a maximum frame of {} bytes", max_frame));
  }
  max_frame_ = max_frame;
  connection_->welcome(max_frame, std::chrono::milliseconds(heartbeat_ms));
  if (goal_ == Goal::renew) return send_resume();
  if (goal_ == Goal::resume) {
    state_ = State::resuming;
    FrameWriter reconnect(Op::reconnect, 2 + token_.size() + 8);
    reconnect.blob(token_).u64(received_);
    connection_->send(reconnect.share());
    unacknowledged_ = 0;
    unacknowledged_bytes_ = 0;
    return;
  }
  if (!fits(*login_frame_)) return end(login_too_large());
  state_ = State::logging_in;
  connection_->send(login_frame_);
}

void SessionLink::on_login_ok(BodyReader r) {
  const auto id = r.u64();
  std::string token(r.blob());
  const auto grace_ms = r.u32();
  const auto replay_bytes = r.u32();
  std::string resume_token(r.blob());
  (void)r.u32();  // how long the resume token is valid, in seconds
  r.done();
  resume_token_ = std::move(resume_token);
  token_ = std::move(token);
  grace_ms_ = grace_ms;
  acknowledge_bytes_ = replay_bytes / kAcknowledgeBudgetShare;
  received_ = 0;
  unacknowledged_ = 0;
  unacknowledged_bytes_ = 0;
  resend_.reset();
  attempts_ = 0;
  delay_ = options_.reconnect_delay;
  redirects_ = 0;
  session_ = id;
  logged_in_ = true;
  state_ = State::in_session;
  emit(callbacks_.on_logged_in, id);
  for (auto& frame : pending_) {
    if (fits(*frame)) send_counted(std::move(frame));
  }
  pending_.clear();
  if (logout_requested_) send_logout();
}

void SessionLink::on_login_failed(BodyReader r) {
  const auto reason = r.u16();
  std::string message(r.str());
  r.done();
  if (state_ == State::renewing) resume_token_.clear();  // refused: the password it is
  state_ = State::login_failed;
  emit(callbacks_.on_login_failed, reason, message);
  if (logout_requested_) end({code(Reason::logged_out), "logged out", false});
}

void SessionLink::on_redirect(BodyReader r) {
  std::string host(r.str());
  const auto port = r.u16();
  r.done();
  if (!options_.follow_redirects) {
    return end({0,
                fmt::format("the server redirected the login to {}:{}, and follow_redirects is off",
                            host, port),
                false});
  }
  if (++redirects_ > kMaxRedirects) {
    return end({0,
                fmt::format("more than {} redirects; the last to {}:{}", kMaxRedirects, host, port),
                false});
  }
  connection_->close();
  host_ = std::move(host);
  port_ = port;
  connect();
}

void SessionLink::on_reconnect_ok(BodyReader r) {
  const auto id = r.u64();
  const auto server_received = r.u64();
  std::string token(r.blob());
  r.done();
  if (id != session_) {
    throw ProtocolError(Reason::malformed_frame,
                        fmt::format("RECONNECT_OK names session {}, not {}", id, session_.load()));
  }
  if (!resend_.acknowledge(server_received)) {
    throw ProtocolError(Reason::malformed_frame,
                        fmt::format("the server counts {} messages from this client, which sent {}",
                                    server_received, resend_.sent()));
  }
  token_ = std::move(token);  // the one used no longer works
  state_ = State::in_session;
  attempts_ = 0;
  delay_ = options_.reconnect_delay;
  redirects_ = 0;
  for (const auto& frame : resend_.frames())
    connection_->send(frame);
  if (const auto lost = resend_.missing_after(server_received); lost > 0) {
    emit(callbacks_.on_disconnected,
         DisconnectInfo{0,
                        fmt::format("the session resumed, but {} sent messages were lost: the "
                                    "server had not received them and the resend buffer "
                                    "({} bytes) no longer held them",
                                    lost, options_.resend_buffer_bytes),
                        true});
  }
  emit(callbacks_.on_reconnected);
  if (logout_requested_) send_logout();
}

void SessionLink::on_reconnect_failed(BodyReader r) {
  const auto reason = r.u16();
  std::string message(r.str());
  r.done();
  if (!options_.auto_resume || resume_token_.empty()) {
    return end({reason, "the session could not be resumed: " + message, false});
  }
  // The session is gone (a restarted server, say): log in again with the resume token.
  const auto unconfirmed = resend_.frames().size();
  resend_.reset();
  token_.clear();
  received_ = 0;
  unacknowledged_ = 0;
  unacknowledged_bytes_ = 0;
  logged_in_ = false;
  session_ = 0;
  emit(callbacks_.on_disconnected,
       DisconnectInfo{
           reason,
           fmt::format("the session could not be resumed ({}){}; logging in again "
                       "with the resume token",
                       message,
                       unconfirmed == 0 ? std::string()
                                        : fmt::format(", and {} messages the server had not "
                                                      "acknowledged may be lost",
                                                      unconfirmed)),
           true});
  send_resume();
}

void SessionLink::send_resume() {
  state_ = State::renewing;
  FrameWriter resume(Op::resume, 2 + resume_token_.size());
  resume.blob(resume_token_);
  connection_->send(resume.share());
}

bool SessionLink::reconnecting() const noexcept {
  switch (state_) {
    case State::resuming:
    case State::renewing:
      return true;
    case State::opening:
    case State::backing_off:
      return goal_ != Goal::login;
    default:
      return false;
  }
}

bool SessionLink::worth_retrying(std::uint16_t reason) const noexcept {
  return reason == 0 || reason == code(Reason::heartbeat_timeout) ||
         reason == code(Reason::shutdown) ||
         (reason == code(Reason::too_many_attempts) && reconnecting());
}

void SessionLink::on_counted(const net::Frame& frame) {
  BodyReader r(frame.body);
  switch (frame.op) {
    case Op::session_message: {
      const auto message = r.rest();
      count_received(frame.body.size());
      return emit(callbacks_.on_message, message);
    }
    case Op::channel_joined: {
      const auto channel = r.u64();
      const std::string name(r.str());
      r.done();
      count_received(frame.body.size());
      return emit(callbacks_.on_channel_joined, channel, name);
    }
    case Op::channel_left: {
      const auto channel = r.u64();
      r.done();
      count_received(frame.body.size());
      return emit(callbacks_.on_channel_left, channel);
    }
    case Op::channel_message: {
      const auto channel = r.u64();
      const auto message = r.rest();
      count_received(frame.body.size());
      return emit(callbacks_.on_channel_message, channel, message);
    }
    default:
      return;
  }
}

void SessionLink::on_heartbeat(BodyReader r) {
  const auto count = r.u64();
  r.done();
  if (!has_session_state()) return;  // the count belongs to a session
  if (!resend_.acknowledge(count)) {
    throw ProtocolError(Reason::malformed_frame,
                        fmt::format("the server acknowledges {} messages from this client, which "
                                    "sent {}",
                                    count, resend_.sent()));
  }
}

// ---- Helpers ----------------------------------------------------------------

void SessionLink::connect() {
  state_ = State::opening;
  Endpoint endpoint{host_,
                    port_,
                    kind_of(options_.transport),
                    tls_,
                    options_.websocket_path,
                    options_.connect_timeout};
  connection_ = Connection::open(strand_, std::move(endpoint), weak_from_this());
}

void SessionLink::send_counted(net::FramePtr frame) {
  resend_.push(frame);
  connection_->send(std::move(frame));
}

void SessionLink::count_received(std::size_t body_bytes) {
  ++received_;
  unacknowledged_bytes_ += net::kLengthBytes + 1 + body_bytes;
  if (++unacknowledged_ >= kAcknowledgeEvery || unacknowledged_bytes_ >= acknowledge_bytes_) {
    return send_heartbeat();
  }
  if (ack_pending_) return;
  ack_pending_ = true;
  ack_timer_.expires_after(kAcknowledgeWithin);
  ack_timer_.async_wait([self = shared_from_this()](const net::ErrorCode& ec) {
    self->ack_pending_ = false;
    if (!ec && self->unacknowledged_ > 0 && self->has_session_state()) self->send_heartbeat();
  });
}

void SessionLink::send_heartbeat() {
  if (!connection_) return;
  FrameWriter heartbeat(Op::heartbeat, 8);
  heartbeat.u64(has_session_state() ? received_ : 0);
  connection_->send(heartbeat.share());
  unacknowledged_ = 0;
  unacknowledged_bytes_ = 0;
}

void SessionLink::send_logout() {
  logout_requested_ = true;
  state_ = State::logging_out;
  FrameWriter logout(Op::logout);
  connection_->send(logout.share());
}

void SessionLink::schedule_resume() {
  if (attempts_ >= options_.max_reconnect_attempts) {
    return end({0,
                fmt::format("could not resume the session in {} attempts (the server keeps it "
                            "for {} ms after a loss); the last error: {}",
                            attempts_, grace_ms_, last_error_),
                false});
  }
  const bool renew =
      state_ == State::renewing || (state_ == State::opening && goal_ == Goal::renew);
  goal_ = renew ? Goal::renew : Goal::resume;
  state_ = State::backing_off;
  retry_timer_.expires_after(delay_);
  delay_ = std::min(delay_ * 2, kMaxReconnectDelay);
  retry_timer_.async_wait([self = shared_from_this()](const net::ErrorCode& ec) {
    if (ec || self->state_ != State::backing_off) return;
    ++self->attempts_;
    self->connect();
  });
}

void SessionLink::expect(const net::Frame& frame, std::initializer_list<State> states,
                         Reason reason) const {
  if (std::find(states.begin(), states.end(), state_) != states.end()) return;
  throw ProtocolError(reason, fmt::format("the server sent {} while the client was {}",
                                          net::op_name(frame.op), name(state_)));
}

bool SessionLink::has_session_state() const noexcept {
  return state_ == State::in_session || state_ == State::logging_out;
}

bool SessionLink::fits(const std::string& frame) const noexcept {
  return frame.size() - net::kLengthBytes <= max_frame_;
}

DisconnectInfo SessionLink::login_too_large() const {
  return {code(Reason::frame_too_large),
          fmt::format("the LOGIN frame of {} bytes exceeds the server's maximum frame of {} bytes",
                      login_frame_->size() - net::kLengthBytes, max_frame_.load()),
          false};
}

void SessionLink::end(const DisconnectInfo& info) {
  stop();
  emit(callbacks_.on_disconnected, info);
}

void SessionLink::stop() {
  if (connection_) {
    connection_->close();
    connection_.reset();
  }
  retry_timer_.cancel();
  ack_timer_.cancel();
  state_ = State::idle;
  token_.clear();
  resume_token_.clear();
  grace_ms_ = 0;
  acknowledge_bytes_ = 0;
  received_ = 0;
  unacknowledged_ = 0;
  unacknowledged_bytes_ = 0;
  resend_.reset();
  logout_requested_ = false;
  attempts_ = 0;
  delay_ = options_.reconnect_delay;
  logged_in_ = false;
  session_ = 0;
}

}  // namespace starhold::client
