// A protocol client written from docs/protocol.md alone, over plain TCP,
// with full control of the bytes: the tests' way to behave well, or badly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace test {

// The protocol version the tests speak (docs/protocol.md, HELLO).
inline constexpr std::uint16_t kProtocolVersion = 2;

namespace op {
inline constexpr std::uint8_t hello = 0x01, welcome = 0x02, login = 0x10, login_ok = 0x11,
                              login_failed = 0x12, redirect = 0x13, reconnect = 0x14,
                              reconnect_ok = 0x15, reconnect_failed = 0x16, resume = 0x17,
                              session_message = 0x20, channel_joined = 0x30, channel_left = 0x31,
                              channel_message = 0x32, logout = 0x40, logout_ok = 0x41,
                              heartbeat = 0x50, disconnect = 0x60;
}

struct Frame {
  std::uint8_t op = 0;
  std::string body;
};

// Big-endian field encoding and decoding, as the protocol document says.
std::string be16(std::uint16_t v);
std::string be32(std::uint32_t v);
std::string be64(std::uint64_t v);
std::string str16(std::string_view s);  // u16 length + bytes
std::string frame(std::uint8_t op, std::string_view body);
std::uint16_t get16(std::string_view s, std::size_t at);
std::uint32_t get32(std::string_view s, std::size_t at);
std::uint64_t get64(std::string_view s, std::size_t at);

class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  // Connects from source_ip (any 127.x.y.z: the server sees that address),
  // then sends preamble (e.g. a PROXY protocol header) before anything else.
  RawClient(std::uint16_t port, const std::string& source_ip, std::string_view preamble = {});
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send_raw(std::string_view bytes);
  void send(std::uint8_t op, std::string_view body = {}) { send_raw(frame(op, body)); }
  // The next frame, or nullopt on timeout or when the server closed.
  std::optional<Frame> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next frame that is not a HEARTBEAT.
  std::optional<Frame> read_skipping_heartbeats(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the server closed the connection (reading frames until then).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The DISCONNECT reason code sent before closing, or -1 if none came.
  int wait_disconnect_reason(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // HELLO, expecting WELCOME. Returns WELCOME's heartbeat_ms.
  std::uint32_t hello();
  // LOGIN; returns the reply (LOGIN_OK, LOGIN_FAILED, REDIRECT, ...). After
  // LOGIN_OK, token(), login_ok() and resume_token() are the session's.
  Frame login(std::string_view name, std::string_view password);
  // hello + login, requiring LOGIN_OK; returns the session id; keeps the token.
  std::uint64_t connect_session(std::string_view name, std::string_view password);
  // HELLO, then RECONNECT with token and received; returns the reply. After
  // RECONNECT_OK, token() is the new token it carries.
  Frame reconnect(std::string_view token, std::uint64_t received);
  const std::string& token() const noexcept { return token_; }
  // The body of the last LOGIN_OK (from login, connect_session or resume).
  const std::string& login_ok() const noexcept { return login_ok_; }
  // The resume token in that LOGIN_OK.
  std::string resume_token() const;
  // HELLO, then RESUME with token; returns the reply. After LOGIN_OK,
  // token(), login_ok() and resume_token() are the new session's.
  Frame resume(std::string_view token);

  void close();
  int fd() const noexcept { return fd_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  // The reply to LOGIN or RESUME (request names it); keeps a LOGIN_OK's token.
  Frame login_reply(const char* request);
  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::string token_;
  std::string login_ok_;
};

}  // namespace test
