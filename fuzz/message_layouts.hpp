// The body of every opcode, as docs/protocol.md lists it. The message-body
// fuzzer decodes bodies by this table with the protocol's BodyReader, as the
// server (src/session/connection.cpp) and the client library
// (src/client/session_link.cpp) do, and make_corpus.cpp encodes seeds by it.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "net/protocol.hpp"

namespace fuzz {

enum class Field { u8, u16, u32, u64, str, blob, rest };

struct Layout {
  starhold::net::Op op;
  std::vector<Field> fields;
};

inline const std::vector<Layout>& layouts() {
  using starhold::net::Op;
  using F = Field;
  static const std::vector<Layout> table = {
      {Op::hello, {F::u32, F::u16}},
      {Op::welcome, {F::u16, F::u32, F::u32}},
      {Op::login, {F::str, F::str}},
      {Op::login_ok, {F::u64, F::blob, F::u32, F::u32, F::blob, F::u32}},
      {Op::login_failed, {F::u16, F::str}},
      {Op::redirect, {F::str, F::u16}},
      {Op::reconnect, {F::blob, F::u64}},
      {Op::reconnect_ok, {F::u64, F::u64, F::blob}},
      {Op::reconnect_failed, {F::u16, F::str}},
      {Op::resume, {F::blob}},
      {Op::session_message, {F::rest}},
      {Op::channel_joined, {F::u64, F::str}},
      {Op::channel_left, {F::u64}},
      {Op::channel_message, {F::u64, F::rest}},
      {Op::logout, {}},
      {Op::logout_ok, {}},
      {Op::heartbeat, {F::u64}},
      {Op::disconnect, {F::u16, F::str}},
  };
  return table;
}

inline const Layout* find_layout(std::uint8_t op) {
  for (const auto& l : layouts()) {
    if (static_cast<std::uint8_t>(l.op) == op) return &l;
  }
  return nullptr;
}

}  // namespace fuzz
