// Fuzzes the decoding of every message body (src/net/protocol.*): the first
// byte is an opcode, the rest its body, decoded field by field with
// BodyReader by the layout docs/protocol.md gives that opcode.
//
// An opcode is known exactly when the protocol lists it. A body either
// decodes, or is refused with ProtocolError(malformed_frame) and nothing else.
// A body that decodes is encoded again by FrameWriter from the decoded
// values, and that frame is the original body behind its length and opcode,
// byte for byte.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "message_layouts.hpp"

namespace {

using starhold::net::BodyReader;
using starhold::net::FrameWriter;
using starhold::net::Op;
using starhold::net::ProtocolError;
using starhold::net::Reason;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "message body fuzzer: %s\n", what);
  std::abort();
}

using Value = std::variant<std::uint64_t, std::string_view>;

Value read(BodyReader& r, fuzz::Field f) {
  switch (f) {
    case fuzz::Field::u8:
      return r.u8();
    case fuzz::Field::u16: {
      const auto v = r.u16();
      (void)starhold::net::reason_name(static_cast<Reason>(v));
      return v;
    }
    case fuzz::Field::u32:
      return r.u32();
    case fuzz::Field::u64:
      return r.u64();
    case fuzz::Field::str:
      return r.str();
    case fuzz::Field::blob:
      return r.blob();
    case fuzz::Field::rest:
      return r.rest();
  }
  violated("a layout names an unknown field type");
}

void write(FrameWriter& w, fuzz::Field f, const Value& v) {
  const auto n = [&] { return std::get<std::uint64_t>(v); };
  switch (f) {
    case fuzz::Field::u8:
      w.u8(static_cast<std::uint8_t>(n()));
      return;
    case fuzz::Field::u16:
      w.u16(static_cast<std::uint16_t>(n()));
      return;
    case fuzz::Field::u32:
      w.u32(static_cast<std::uint32_t>(n()));
      return;
    case fuzz::Field::u64:
      w.u64(n());
      return;
    case fuzz::Field::str:
      w.str(std::get<std::string_view>(v));
      return;
    case fuzz::Field::blob:
      w.blob(std::get<std::string_view>(v));
      return;
    case fuzz::Field::rest:
      w.rest(std::get<std::string_view>(v));
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t op = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  const fuzz::Layout* layout = fuzz::find_layout(op);
  if (starhold::net::is_known_op(op) != (layout != nullptr)) {
    violated("is_known_op disagrees with the protocol's opcode table");
  }
  if (starhold::net::op_name(static_cast<Op>(op)) == nullptr) violated("op_name gave null");
  if (layout == nullptr) return 0;

  std::vector<Value> values;
  try {
    BodyReader r(body);
    for (auto f : layout->fields)
      values.push_back(read(r, f));
    r.done();
  } catch (const ProtocolError& e) {
    if (e.reason() != Reason::malformed_frame) violated("a body was refused for another reason");
    return 0;
  }

  FrameWriter w(layout->op, body.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    write(w, layout->fields[i], values[i]);
  const std::string frame = w.finish();
  const std::size_t length = body.size() + 1;
  std::string expected;
  for (int shift = 24; shift >= 0; shift -= 8)
    expected.push_back(static_cast<char>(length >> shift));
  expected.push_back(static_cast<char>(op));
  expected.append(body);
  if (frame != expected) violated("a decoded body encodes to other bytes");
  return 0;
}
