#include "starhold/fields.hpp"

#include <fmt/format.h>

namespace starhold {
namespace wire {

const char* kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::varint:
      return "varint";
    case Kind::fixed64:
      return "fixed64";
    case Kind::bytes:
      return "bytes";
    case Kind::fixed32:
      return "fixed32";
  }
  return "invalid";
}

void Cursor::fail(const std::string& what) {
  throw FieldError(what);
}

}  // namespace wire

void FieldWriter::check_number(std::uint32_t number) {
  if (number == 0 || number >= (1u << 29)) {
    throw EncodeError(fmt::format("field number {} is outside 1..536870911", number));
  }
}

FieldReader::FieldReader(wire::Cursor in) : depth_(in.depth()) {
  if (depth_ >= wire::kMaxDepth) wire::Cursor::fail("structs nested too deeply");
  while (!in.empty()) {
    const char* raw = in.position();
    std::uint64_t tag = in.varint();
    const std::uint64_t number = tag >> 3;
    const auto kind = static_cast<wire::Kind>(tag & 7);
    if (number == 0 || number >= (1u << 29)) {
      wire::Cursor::fail(fmt::format("invalid field number {}", number));
    }
    const char* begin = nullptr;
    const char* end = nullptr;
    switch (kind) {
      case wire::Kind::varint:
        begin = in.position();
        in.varint();
        end = in.position();
        break;
      case wire::Kind::fixed64:
        begin = in.take(8).data();
        end = begin + 8;
        break;
      case wire::Kind::fixed32:
        begin = in.take(4).data();
        end = begin + 4;
        break;
      case wire::Kind::bytes: {
        std::string_view body = in.framed();
        begin = body.data();
        end = body.data() + body.size();
        break;
      }
      default:
        wire::Cursor::fail(
            fmt::format("field {} has invalid wire kind {}", number, static_cast<int>(kind)));
    }
    Entry e{static_cast<std::uint32_t>(number), kind, false, raw, begin, end};
    // A repeated number (only from a foreign writer) keeps the last value.
    if (Entry* old = find(e.number)) {
      *old = e;
      continue;
    }
    if (count_ < kInline) {
      inline_[count_] = e;
    } else {
      overflow_.push_back(e);
    }
    ++count_;
  }
}

FieldReader::Entry* FieldReader::find(std::uint32_t number) noexcept {
  const std::size_t n = count_ < kInline ? count_ : kInline;
  for (std::size_t i = 0; i < n; ++i) {
    if (inline_[i].number == number) return &inline_[i];
  }
  for (auto& e : overflow_) {
    if (e.number == number) return &e;
  }
  return nullptr;
}

void FieldReader::append_unknown(std::string& out) const {
  const std::size_t n = count_ < kInline ? count_ : kInline;
  auto add = [&](const Entry& e) {
    if (!e.used) out.append(e.raw_begin, static_cast<std::size_t>(e.value_end - e.raw_begin));
  };
  for (std::size_t i = 0; i < n; ++i)
    add(inline_[i]);
  for (const auto& e : overflow_)
    add(e);
}

void FieldReader::wrong_kind(std::uint32_t number, wire::Kind stored, wire::Kind wanted) {
  throw FieldError(fmt::format("field {} is stored as {} but declared as {}", number,
                               wire::kind_name(stored), wire::kind_name(wanted)));
}

void FieldReader::nested_failure(std::uint32_t number, const FieldError& err) {
  throw FieldError(fmt::format("field {}: {}", number, err.what()));
}

}  // namespace starhold
