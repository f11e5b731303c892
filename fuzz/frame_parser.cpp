// Fuzzes the frame decoder (src/net/protocol.*, FrameParser). The first byte
// picks the maximum frame size before and after the first frame (as WELCOME
// raises it), the second seeds how the stream is cut into reads, and the rest
// is the byte stream a peer sent.
//
// The parser must return exactly the frames the protocol's framing gives (a
// u32 length, then that many bytes of opcode and body), no sooner than their
// last byte arrived, and refuse a length of zero (malformed_frame) or over the
// maximum (frame_too_large) once it has the length. It never loses or
// invents a byte: what it holds is what arrived and was not yet returned.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "net/protocol.hpp"

namespace {

using starhold::net::Frame;
using starhold::net::FrameParser;
using starhold::net::ProtocolError;
using starhold::net::Reason;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "frame parser fuzzer: %s\n", what);
  std::abort();
}

constexpr std::uint32_t kMaxFrames[8] = {1, 5, 16, 256, 4096, 65536, 1u << 20, 0xffffffffu};

// The sizes of reads and of prepare() requests: a small deterministic
// generator, so a crash reproduces from its input alone.
struct Cuts {
  std::uint32_t state;
  std::size_t next(std::size_t limit) {
    state = state * 1664525u + 1013904223u;
    return 1 + (state >> 8) % limit;
  }
};

std::uint32_t length_at(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t first_max = kMaxFrames[data[0] & 7];
  const std::uint32_t later_max = kMaxFrames[(data[0] >> 3) & 7];
  Cuts cuts{data[1]};
  const std::uint8_t* stream = data + 2;
  const std::size_t total = size - 2;

  FrameParser parser(first_max);
  std::size_t fed = 0;       // bytes given to the parser
  std::size_t consumed = 0;  // bytes returned as frames
  bool first = true;
  while (fed < total) {
    const std::size_t chunk = cuts.next(total - fed < 300 ? total - fed : 300);
    std::size_t available = 0;
    const std::size_t want = cuts.next(chunk);
    char* space = parser.prepare(want, available);
    if (available < want) violated("prepare gave less space than asked");
    const std::size_t n = chunk < available ? chunk : available;
    std::memcpy(space, stream + fed, n);
    parser.commit(n);
    fed += n;

    for (;;) {
      if (parser.buffered() != fed - consumed) violated("the parser lost or invented bytes");
      const std::size_t have = fed - consumed;
      const std::uint32_t length = have >= 4 ? length_at(stream + consumed) : 0;
      Frame frame{};
      bool got = false;
      try {
        got = parser.next(frame);
      } catch (const ProtocolError& e) {
        if (have < 4) violated("a frame was refused before its length arrived");
        if (length == 0 && e.reason() == Reason::malformed_frame) return 0;
        if (length > parser.max_frame() && e.reason() == Reason::frame_too_large) return 0;
        violated("a frame was refused for the wrong reason");
      }
      if (!got) {
        if (have >= 4 && (length == 0 || length > parser.max_frame())) {
          violated("a bad length was not refused");
        }
        if (have >= 4 + std::size_t{length} && length != 0) violated("a whole frame was held back");
        break;
      }
      if (have < 4 + std::size_t{length} || length == 0 || length > parser.max_frame()) {
        violated("a frame was returned that the framing does not give");
      }
      const std::string_view expected(reinterpret_cast<const char*>(stream) + consumed + 5,
                                      length - 1);
      if (static_cast<std::uint8_t>(frame.op) != stream[consumed + 4] || frame.body != expected) {
        violated("a frame's opcode or body differs from the bytes sent");
      }
      consumed += 4 + std::size_t{length};
      if (first) {
        parser.set_max_frame(later_max);
        first = false;
      }
    }
    if (parser.buffered() == 0 && (cuts.next(2) == 1)) parser.shrink_if_empty();
  }
  return 0;
}
