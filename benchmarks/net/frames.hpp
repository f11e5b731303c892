// Protocol frames for the network benchmark, written from docs/protocol.md
// alone: opcodes, big-endian fields, and a reader that cuts a byte stream
// into whole frames.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>

namespace netbench {

namespace asio = boost::asio;

namespace op {
inline constexpr std::uint8_t hello = 0x01, welcome = 0x02, login = 0x10, login_ok = 0x11,
                              login_failed = 0x12, resume = 0x17, session_message = 0x20,
                              channel_joined = 0x30, channel_left = 0x31, channel_message = 0x32,
                              heartbeat = 0x50, disconnect = 0x60;
}

inline constexpr std::uint32_t kMaxFrame = 65536;

// Appends the low `bytes` bytes of v to out, most significant first. Inline:
// it runs for every frame the clients and the raw baseline write.
inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

// Reads `bytes` big-endian bytes at p. Inline: it runs for every frame read.
inline std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Appends one frame (length, opcode, body) to out.
inline void append_frame(std::string& out, std::uint8_t opcode, std::string_view body) {
  put_be(out, body.size() + 1, 4);
  out.push_back(static_cast<char>(opcode));
  out.append(body);
}

// One frame (length, opcode, body) as a string.
std::string frame(std::uint8_t opcode, std::string_view body);
// s prefixed by its length in two bytes (the protocol's str16).
std::string str16(std::string_view s);
// v as eight big-endian bytes.
std::string u64_body(std::uint64_t v);

// Bytes read from a stream, cut into whole frames.
class FrameReader {
 public:
  explicit FrameReader(std::size_t chunk) : buf_(chunk) {}
  // Room for the next read.
  asio::mutable_buffer space();
  void commit(std::size_t n) { end_ += n; }
  // Calls f(opcode, body) for every whole frame; false on a frame no server may send.
  template <class F>
  bool each(F&& f) {
    while (end_ - begin_ >= 5) {
      const char* p = buf_.data() + begin_;
      const auto len = static_cast<std::size_t>(get_be(p, 4));
      if (len == 0 || len > kMaxFrame) return false;
      if (end_ - begin_ < 4 + len) break;
      begin_ += 4 + len;
      f(static_cast<std::uint8_t>(p[4]), std::string_view(p + 5, len - 1));
    }
    if (begin_ == end_) begin_ = end_ = 0;
    return true;
  }

 private:
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace netbench
