// The wire protocol of docs/protocol.md: opcodes, reason codes, and the
// encoding and decoding of frames. Shared by the server and the client library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace starhold::net {

inline constexpr std::uint32_t kMagic = 0x53484C44;  // "SHLD"
inline constexpr std::uint16_t kVersion = 2;
inline constexpr std::size_t kLengthBytes = 4;
// Largest frame a client may send before WELCOME tells it the real maximum.
inline constexpr std::uint32_t kPreWelcomeMaxFrame = 256;
// The smallest maximum frame a server may announce: every frame the server
// makes of its own (texts, names, hosts, tokens) fits in it.
inline constexpr std::uint32_t kMinMaxFrame = 1024;
// Longest text (the message of LOGIN_FAILED, RECONNECT_FAILED, DISCONNECT).
inline constexpr std::size_t kMaxText = 1000;
// Longest host name in REDIRECT (a DNS name's limit).
inline constexpr std::size_t kMaxHost = 253;
// Longest channel name (CHANNEL_JOINED).
inline constexpr std::size_t kMaxChannelName = 255;

// The first bytes of s, at most max, without a partial UTF-8 character at the end.
std::string_view cut_text(std::string_view s, std::size_t max) noexcept;

enum class Op : std::uint8_t {
  hello = 0x01,
  welcome = 0x02,
  login = 0x10,
  login_ok = 0x11,
  login_failed = 0x12,
  redirect = 0x13,
  reconnect = 0x14,
  reconnect_ok = 0x15,
  reconnect_failed = 0x16,
  resume = 0x17,
  session_message = 0x20,
  channel_joined = 0x30,
  channel_left = 0x31,
  channel_message = 0x32,
  logout = 0x40,
  logout_ok = 0x41,
  heartbeat = 0x50,
  disconnect = 0x60,
};

enum class Reason : std::uint16_t {
  protocol_version = 1,
  malformed_frame = 2,
  frame_too_large = 3,
  unknown_opcode = 4,
  not_logged_in = 5,
  bad_credentials = 6,
  too_many_attempts = 7,
  flood = 8,
  slow_reader = 9,
  heartbeat_timeout = 10,
  server_full = 11,
  duplicate_login = 12,
  kicked = 13,
  shutdown = 14,
  logged_out = 15,
  already_logged_in = 16,
  refused = 17,
  invalid_token = 18,
  session_expired = 19,
  handshake_timeout = 20,
  internal_error = 21,
  server_busy = 22,
  replay_overflow = 23,
  resumed_elsewhere = 24,
};

const char* reason_name(Reason r) noexcept;
const char* op_name(Op op) noexcept;
bool is_known_op(std::uint8_t op) noexcept;

// A frame that breaks the protocol; reason says how.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(Reason reason, const std::string& what)
      : std::runtime_error(what), reason_(reason) {}
  Reason reason() const noexcept { return reason_; }

 private:
  Reason reason_;
};

// Encodes one frame. Fields are appended in order; finish() fills in the length.
class FrameWriter {
 public:
  explicit FrameWriter(Op op, std::size_t body_hint = 0);
  FrameWriter& u8(std::uint8_t v);
  FrameWriter& u16(std::uint16_t v);
  FrameWriter& u32(std::uint32_t v);
  FrameWriter& u64(std::uint64_t v);
  // Throws std::length_error past 65,535 bytes: for fields whose limit the
  // caller has already enforced.
  FrameWriter& str(std::string_view s);
  // A str of cut_text(s, kMaxText): for human-readable texts. Never throws
  // for length.
  FrameWriter& text(std::string_view s) { return str(cut_text(s, kMaxText)); }
  FrameWriter& blob(std::string_view b) { return str(b); }
  FrameWriter& rest(std::string_view b);
  // The encoded frame; the writer is spent.
  std::string finish();
  // The encoded frame as an immutable buffer to share (fan-out, replay).
  std::shared_ptr<const std::string> share() {
    return std::make_shared<const std::string>(finish());
  }

 private:
  std::string out_;
};

using FramePtr = std::shared_ptr<const std::string>;

// A frame's opcode and body, viewing the parser's buffer.
struct Frame {
  Op op;
  std::string_view body;
};

// Reads the fields of a frame body; throws ProtocolError(malformed_frame)
// when the body is too short, or has bytes left at done().
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : p_(body) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view str();
  std::string_view blob() { return str(); }
  std::string_view rest();
  void done() const;

 private:
  std::string_view take(std::size_t n);
  std::string_view p_;
};

// Cuts a byte stream into frames. Bytes are written into the space given by
// prepare() and announced with commit(); next() returns complete frames.
// The buffer grows only as far as the largest frame allowed.
class FrameParser {
 public:
  explicit FrameParser(std::uint32_t max_frame) : max_frame_(max_frame) {}

  void set_max_frame(std::uint32_t m) noexcept { max_frame_ = m; }
  std::uint32_t max_frame() const noexcept { return max_frame_; }

  // Space for at least min bytes of input.
  char* prepare(std::size_t min, std::size_t& available);
  void commit(std::size_t n) noexcept { end_ += n; }

  // The next complete frame, or false. Throws ProtocolError for a length of
  // zero or over the maximum. The frame stays valid until the next call.
  bool next(Frame& frame);

  // Bytes received but not yet returned as frames.
  std::size_t buffered() const noexcept { return end_ - begin_; }
  // Releases the buffer when it holds nothing (idle connections keep no memory).
  void shrink_if_empty();

 private:
  std::uint32_t max_frame_;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace starhold::net
