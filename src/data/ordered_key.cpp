// The order-preserving form of std::string keys (see ordered_key.hpp).
#include "starhold/ordered_key.hpp"

namespace starhold::detail {
namespace {
constexpr std::uint8_t kEscape = 0x00;
constexpr std::uint8_t kEscapedZero = 0xFF;
constexpr std::uint8_t kEnd = 0x01;
}  // namespace

void KeyCodec<std::string>::encode(KeyWriter& w, const std::string& s) {
  for (char c : s) {
    const auto b = static_cast<std::uint8_t>(c);
    w.byte(b);
    if (b == kEscape) w.byte(kEscapedZero);
  }
  w.byte(kEscape);
  w.byte(kEnd);
}

void KeyCodec<std::string>::decode(KeyReader& r, std::string& s) {
  s.clear();
  for (;;) {
    const std::uint8_t b = r.byte();
    if (b != kEscape) {
      s.push_back(static_cast<char>(b));
      continue;
    }
    const std::uint8_t next = r.byte();
    if (next == kEnd) return;
    if (next != kEscapedZero) wire::Cursor::fail("ordered string key has a bad escape");
    s.push_back('\0');
  }
}

}  // namespace starhold::detail
