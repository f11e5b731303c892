#include "net/protocol.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace starhold::net {

const char* reason_name(Reason r) noexcept {
  switch (r) {
    case Reason::protocol_version:
      return "protocol_version";
    case Reason::malformed_frame:
      return "malformed_frame";
    case Reason::frame_too_large:
      return "frame_too_large";
    case Reason::unknown_opcode:
      return "unknown_opcode";
    case Reason::not_logged_in:
      return "not_logged_in";
    case Reason::bad_credentials:
      return "bad_credentials";
    case Reason::too_many_attempts:
      return "too_many_attempts";
    case Reason::flood:
      return "flood";
    case Reason::slow_reader:
      return "slow_reader";
    case Reason::heartbeat_timeout:
      return "heartbeat_timeout";
    case Reason::server_full:
      return "server_full";
    case Reason::duplicate_login:
      return "duplicate_login";
    case Reason::kicked:
      return "kicked";
    case Reason::shutdown:
      return "shutdown";
    case Reason::logged_out:
      return "logged_out";
    case Reason::already_logged_in:
      return "already_logged_in";
    case Reason::refused:
      return "refused";
    case Reason::invalid_token:
      return "invalid_token";
    case Reason::session_expired:
      return "session_expired";
    case Reason::handshake_timeout:
      return "handshake_timeout";
    case Reason::internal_error:
      return "internal_error";
    case Reason::server_busy:
      return "server_busy";
    case Reason::replay_overflow:
      return "replay_overflow";
    case Reason::resumed_elsewhere:
      return "resumed_elsewhere";
  }
  return "unknown_reason";
}

const char* op_name(Op op) noexcept {
  switch (op) {
    case Op::hello:
      return "HELLO";
    case Op::welcome:
      return "WELCOME";
    case Op::login:
      return "LOGIN";
    case Op::login_ok:
      return "LOGIN_OK";
    case Op::login_failed:
      return "LOGIN_FAILED";
    case Op::redirect:
      return "REDIRECT";
    case Op::reconnect:
      return "RECONNECT";
    case Op::reconnect_ok:
      return "RECONNECT_OK";
    case Op::reconnect_failed:
      return "RECONNECT_FAILED";
    case Op::resume:
      return "RESUME";
    case Op::session_message:
      return "SESSION_MESSAGE";
    case Op::channel_joined:
      return "CHANNEL_JOINED";
    case Op::channel_left:
      return "CHANNEL_LEFT";
    case Op::channel_message:
      return "CHANNEL_MESSAGE";
    case Op::logout:
      return "LOGOUT";
    case Op::logout_ok:
      return "LOGOUT_OK";
    case Op::heartbeat:
      return "HEARTBEAT";
    case Op::disconnect:
      return "DISCONNECT";
  }
  return "UNKNOWN";
}

bool is_known_op(std::uint8_t op) noexcept {
  switch (static_cast<Op>(op)) {
    case Op::hello:
    case Op::welcome:
    case Op::login:
    case Op::login_ok:
    case Op::login_failed:
    case Op::redirect:
    case Op::reconnect:
    case Op::reconnect_ok:
    case Op::reconnect_failed:
    case Op::resume:
    case Op::session_message:
    case Op::channel_joined:
    case Op::channel_left:
    case Op::channel_message:
    case Op::logout:
    case Op::logout_ok:
    case Op::heartbeat:
    case Op::disconnect:
      return true;
  }
  return false;
}

std::string_view cut_text(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // s[n] is the first byte left out: while it continues a character, that
  // character would be cut, so leave it out whole.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

// ---- FrameWriter -----------------------------------------------------------

FrameWriter::FrameWriter(Op op, std::size_t body_hint) {
  out_.reserve(kLengthBytes + 1 + body_hint);
  out_.append(kLengthBytes, '\0');
  out_.push_back(static_cast<char>(op));
}

FrameWriter& FrameWriter::u8(std::uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}
FrameWriter& FrameWriter::u16(std::uint16_t v) {
  out_.push_back(static_cast<char>(v >> 8));
  out_.push_back(static_cast<char>(v));
  return *this;
}
FrameWriter& FrameWriter::u32(std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8)
    out_.push_back(static_cast<char>(v >> s));
  return *this;
}
FrameWriter& FrameWriter::u64(std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8)
    out_.push_back(static_cast<char>(v >> s));
  return *this;
}
FrameWriter& FrameWriter::str(std::string_view s) {
  if (s.size() > 0xffff) throw std::length_error("protocol string longer than 65535 bytes");
  u16(static_cast<std::uint16_t>(s.size()));
  out_.append(s);
  return *this;
}
FrameWriter& FrameWriter::rest(std::string_view b) {
  out_.append(b);
  return *this;
}

std::string FrameWriter::finish() {
  const auto n = static_cast<std::uint32_t>(out_.size() - kLengthBytes);
  for (int i = 0; i < 4; ++i)
    out_[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  return std::move(out_);
}

// ---- BodyReader ------------------------------------------------------------

std::string_view BodyReader::take(std::size_t n) {
  if (p_.size() < n) throw ProtocolError(Reason::malformed_frame, "frame body too short");
  std::string_view s = p_.substr(0, n);
  p_.remove_prefix(n);
  return s;
}

std::uint8_t BodyReader::u8() {
  return static_cast<std::uint8_t>(take(1)[0]);
}
std::uint16_t BodyReader::u16() {
  auto s = take(2);
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[0]) << 8) |
                                    static_cast<unsigned char>(s[1]));
}
std::uint32_t BodyReader::u32() {
  auto s = take(4);
  std::uint32_t v = 0;
  for (char c : s)
    v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}
std::uint64_t BodyReader::u64() {
  auto s = take(8);
  std::uint64_t v = 0;
  for (char c : s)
    v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}
std::string_view BodyReader::str() {
  return take(u16());
}
std::string_view BodyReader::rest() {
  return take(p_.size());
}
void BodyReader::done() const {
  if (!p_.empty()) {
    throw ProtocolError(Reason::malformed_frame,
                        fmt::format("frame body has {} unexpected trailing bytes", p_.size()));
  }
}

// ---- FrameParser -----------------------------------------------------------

namespace {

// Read buffers of the common size, kept per thread: a connection gives its
// buffer back whenever it holds no partial frame, so that idle connections
// keep no memory, and the next read on this thread takes it again without a
// trip through malloc (a 4 KiB request makes glibc consolidate its fast bins).
constexpr std::size_t kPooledBytes = 4096;
constexpr std::size_t kPoolMax = 64;

std::vector<std::unique_ptr<char[]>>& buffer_pool() {
  thread_local std::vector<std::unique_ptr<char[]>> pool;
  return pool;
}

std::unique_ptr<char[]> new_buffer(std::size_t bytes) {
  if (bytes == kPooledBytes) {
    auto& pool = buffer_pool();
    if (!pool.empty()) {
      auto b = std::move(pool.back());
      pool.pop_back();
      return b;
    }
  }
  return std::make_unique_for_overwrite<char[]>(bytes);
}

}  // namespace

char* FrameParser::prepare(std::size_t min, std::size_t& available) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (capacity_ - end_ < min) {
    // Move what is left to the front, then grow if that is not enough.
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (capacity_ - end_ < min) {
      std::size_t cap = std::max<std::size_t>(capacity_ * 2, end_ + min);
      if (cap < kPooledBytes) cap = kPooledBytes;
      auto bigger = new_buffer(cap);
      if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      capacity_ = cap;
    }
  }
  available = capacity_ - end_;
  return buf_.get() + end_;
}

bool FrameParser::next(Frame& frame) {
  const std::size_t have = end_ - begin_;
  if (have < kLengthBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.get() + begin_);
  const std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                            (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
  if (len == 0) throw ProtocolError(Reason::malformed_frame, "frame of length 0");
  if (len > max_frame_) {
    throw ProtocolError(
        Reason::frame_too_large,
        fmt::format("frame of {} bytes exceeds the maximum of {}", len, max_frame_));
  }
  if (have < kLengthBytes + len) return false;
  frame.op = static_cast<Op>(p[4]);
  frame.body = std::string_view(buf_.get() + begin_ + kLengthBytes + 1, len - 1);
  begin_ += kLengthBytes + len;
  return true;
}

void FrameParser::shrink_if_empty() {
  if (begin_ != end_ || !buf_) return;
  auto& pool = buffer_pool();
  if (capacity_ == kPooledBytes && pool.size() < kPoolMax) pool.push_back(std::move(buf_));
  buf_.reset();
  capacity_ = begin_ = end_ = 0;
}

}  // namespace starhold::net
