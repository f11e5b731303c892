// Field encoding of managed objects.
//
// A managed class lists its persistent fields once, each with a number that
// never changes:
//
//   template <class F> void fields(F& f) {
//     f(1, name);
//     f(2, score);
//     f(3, home);   // a Ref<Room>
//   }
//
// The same function encodes and decodes. Each field is stored as a tag (its
// number and wire kind) followed by its value, so records survive schema
// evolution: a field added later keeps its in-class default when an old record
// is read; a field that is no longer declared is skipped when read and kept,
// byte for byte, when the object is written back; a field whose kind changed
// (an int that became a string) is reported as a DecodeError naming the field.
// Never reuse the number of a removed field for a new meaning.
//
// Supported: bool, integers, enums, float, double, std::string, byte vectors,
// std::vector, std::deque, std::array, std::set, std::unordered_set, std::map,
// std::unordered_map, std::optional, std::pair, std::chrono durations and
// system_clock time points, ObjectId and Ref<T>, and any struct with its own
// fields() function (stored as a nested message that evolves the same way).
// Encoding is canonical: equal values give equal bytes (unordered containers
// are written sorted), so an object is written back only when it changed.
// Other types plug in by specialising starhold::FieldCodec (see below).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "starhold/errors.hpp"

namespace starhold {

// Thrown by decoding when bytes do not match the declared fields. The data
// service rethrows it as a DecodeError naming the object and its type.
class FieldError : public Error {
 public:
  using Error::Error;
};

namespace wire {

// How a value is laid out after its tag. The numbering follows Protocol
// Buffers, so the format is familiar and tools can read it.
enum class Kind : std::uint8_t { varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 };

const char* kind_name(Kind k) noexcept;

inline void put_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, static_cast<std::size_t>(n));
}

inline void put_fixed32(std::string& out, std::uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i)
    buf[i] = static_cast<char>(v >> (8 * i));
  out.append(buf, 4);
}

inline void put_fixed64(std::string& out, std::uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i)
    buf[i] = static_cast<char>(v >> (8 * i));
  out.append(buf, 8);
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Bounded reader over encoded bytes. Every read checks the bounds and throws
// FieldError on truncated or malformed input; it never reads past end.
class Cursor {
 public:
  Cursor(const char* begin, const char* end, int depth = 0) : p_(begin), end_(end), depth_(depth) {}
  explicit Cursor(std::string_view s, int depth = 0)
      : Cursor(s.data(), s.data() + s.size(), depth) {}

  bool empty() const noexcept { return p_ == end_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  const char* position() const noexcept { return p_; }
  int depth() const noexcept { return depth_; }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) fail("truncated varint");
      auto b = static_cast<std::uint8_t>(*p_++);
      if (shift == 63 && b > 1) fail("varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    fail("varint longer than 10 bytes");
  }
  std::uint32_t fixed32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(p_[i])) << (8 * i);
    p_ += 4;
    return v;
  }
  std::uint64_t fixed64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(p_[i])) << (8 * i);
    p_ += 8;
    return v;
  }
  // A length-prefixed span.
  std::string_view framed() {
    std::uint64_t n = varint();
    if (n > remaining()) fail("length prefix runs past the end of the record");
    std::string_view s(p_, static_cast<std::size_t>(n));
    p_ += n;
    return s;
  }
  std::string_view take(std::size_t n) {
    need(n);
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  [[noreturn]] static void fail(const std::string& what);

 private:
  void need(std::size_t n) {
    if (remaining() < n) fail("truncated value");
  }
  const char* p_;
  const char* end_;
  int depth_;
};

// Nesting limit for structs and containers, so corrupted bytes cannot exhaust the stack.
inline constexpr int kMaxDepth = 100;

// Appends a length prefix and the bytes body(out) writes, without a copy when
// the body is shorter than 128 bytes.
template <class Body>
void put_framed(std::string& out, Body&& body) {
  const std::size_t at = out.size();
  out.push_back('\0');
  body(out);
  const std::size_t n = out.size() - at - 1;
  if (n < 0x80) {
    out[at] = static_cast<char>(n);
    return;
  }
  std::string prefix;
  put_varint(prefix, n);
  out.replace(at, 1, prefix);
}

}  // namespace wire

// FieldCodec<T> says how one value of T is stored: its wire kind, and
// encode/decode of the value without its tag. For Kind::bytes, encode writes
// the body only and decode receives a cursor over exactly that body.
template <class T, class Enable = void>
struct FieldCodec;

class FieldWriter;
class FieldReader;

// A struct that lists its fields: it is stored as a nested message.
template <class T>
concept FieldStruct = requires(T& t, FieldWriter& w, FieldReader& r) {
  t.fields(w);
  t.fields(r);
};

template <class T>
concept Encodable = requires {
  FieldCodec<T>::kind;
};

namespace wire {

// A value inside a container or a field: framed when its kind is bytes.
template <class T>
void put_value(std::string& out, const T& v) {
  if constexpr (FieldCodec<T>::kind == Kind::bytes) {
    put_framed(out, [&](std::string& o) { FieldCodec<T>::encode(o, v); });
  } else {
    FieldCodec<T>::encode(out, v);
  }
}

template <class T>
void get_value(Cursor& in, T& v) {
  if constexpr (FieldCodec<T>::kind == Kind::bytes) {
    if (in.depth() >= kMaxDepth) Cursor::fail("values nested too deeply");
    std::string_view body = in.framed();
    Cursor sub(body, in.depth() + 1);
    FieldCodec<T>::decode(sub, v);
  } else {
    FieldCodec<T>::decode(in, v);
  }
}

}  // namespace wire

// Encodes fields into a message. Used by Starhold when it stores an object;
// game code only sees it as the F in fields(F&).
class FieldWriter {
 public:
  explicit FieldWriter(std::string& out) : out_(out) {}

  template <class T>
  FieldWriter& operator()(std::uint32_t number, const T& value) {
    static_assert(Encodable<T>,
                  "starhold: this field type cannot be stored; use a supported type, give the "
                  "struct a fields() function, or specialise starhold::FieldCodec");
    check_number(number);
    wire::put_varint(out_, (static_cast<std::uint64_t>(number) << 3) |
                               static_cast<std::uint64_t>(FieldCodec<T>::kind));
    wire::put_value(out_, value);
    return *this;
  }

  static constexpr bool is_reader = false;

 private:
  static void check_number(std::uint32_t number);
  std::string& out_;
};

// Decodes a message into fields. Fields absent from the message keep their
// current value; fields present but not asked for are kept as unknown bytes.
class FieldReader {
 public:
  // Indexes the message, which must outlive the reader. Throws FieldError if
  // it is not a well-formed message.
  explicit FieldReader(wire::Cursor message);
  explicit FieldReader(std::string_view message) : FieldReader(wire::Cursor(message)) {}

  template <class T>
  FieldReader& operator()(std::uint32_t number, T& value) {
    static_assert(Encodable<T>,
                  "starhold: this field type cannot be stored; use a supported type, give the "
                  "struct a fields() function, or specialise starhold::FieldCodec");
    Entry* e = find(number);
    if (e == nullptr) return *this;
    e->used = true;
    if (e->kind != FieldCodec<T>::kind) wrong_kind(number, e->kind, FieldCodec<T>::kind);
    try {
      wire::Cursor c(e->value_begin, e->value_end, depth_ + 1);
      FieldCodec<T>::decode(c, value);
      if (!c.empty()) wire::Cursor::fail("value has trailing bytes");
    } catch (const FieldError& err) {
      nested_failure(number, err);
    }
    return *this;
  }

  // Appends the raw bytes of every field that was present but never read.
  void append_unknown(std::string& out) const;

  static constexpr bool is_reader = true;

 private:
  struct Entry {
    std::uint32_t number;
    wire::Kind kind;
    bool used;
    const char* raw_begin;  // tag
    const char* value_begin;
    const char* value_end;
  };
  Entry* find(std::uint32_t number) noexcept;
  [[noreturn]] static void wrong_kind(std::uint32_t number, wire::Kind stored, wire::Kind wanted);
  [[noreturn]] static void nested_failure(std::uint32_t number, const FieldError& err);

  static constexpr std::size_t kInline = 16;
  std::array<Entry, kInline> inline_{};
  std::vector<Entry> overflow_;
  std::size_t count_ = 0;
  int depth_;
};

// ---------------------------------------------------------------------------
// Codecs for standard types.

template <>
struct FieldCodec<bool> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, bool v) { out.push_back(v ? '\1' : '\0'); }
  static void decode(wire::Cursor& in, bool& v) {
    std::uint64_t x = in.varint();
    if (x > 1) wire::Cursor::fail("bool stored as " + std::to_string(x));
    v = x == 1;
  }
};

template <std::integral T>
struct FieldCodec<T, std::enable_if_t<!std::is_same_v<T, bool>>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, T v) {
    if constexpr (std::is_signed_v<T>) {
      wire::put_varint(out, wire::zigzag(v));
    } else {
      wire::put_varint(out, v);
    }
  }
  static void decode(wire::Cursor& in, T& v) {
    std::uint64_t raw = in.varint();
    if constexpr (std::is_signed_v<T>) {
      std::int64_t s = wire::unzigzag(raw);
      if (s < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
          s > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
        wire::Cursor::fail("value " + std::to_string(s) + " out of range for a " +
                           std::to_string(8 * sizeof(T)) + "-bit integer");
      }
      v = static_cast<T>(s);
    } else {
      if (raw > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
        wire::Cursor::fail("value " + std::to_string(raw) + " out of range for a " +
                           std::to_string(8 * sizeof(T)) + "-bit unsigned integer");
      }
      v = static_cast<T>(raw);
    }
  }
};

template <class T>
struct FieldCodec<T, std::enable_if_t<std::is_enum_v<T>>> {
  using U = std::underlying_type_t<T>;
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, T v) { FieldCodec<U>::encode(out, static_cast<U>(v)); }
  static void decode(wire::Cursor& in, T& v) {
    U u{};
    FieldCodec<U>::decode(in, u);
    v = static_cast<T>(u);
  }
};

template <>
struct FieldCodec<float> {
  static constexpr wire::Kind kind = wire::Kind::fixed32;
  static void encode(std::string& out, float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    wire::put_fixed32(out, bits);
  }
  static void decode(wire::Cursor& in, float& v) {
    std::uint32_t bits = in.fixed32();
    std::memcpy(&v, &bits, 4);
  }
};

template <>
struct FieldCodec<double> {
  static constexpr wire::Kind kind = wire::Kind::fixed64;
  static void encode(std::string& out, double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    wire::put_fixed64(out, bits);
  }
  static void decode(wire::Cursor& in, double& v) {
    std::uint64_t bits = in.fixed64();
    std::memcpy(&v, &bits, 8);
  }
};

template <>
struct FieldCodec<std::string> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const std::string& v) { out.append(v); }
  static void decode(wire::Cursor& in, std::string& v) {
    std::string_view s = in.take(in.remaining());
    v.assign(s.data(), s.size());
  }
};

// Raw byte vectors are stored as one blob, not element by element.
template <class B>
struct FieldCodec<std::vector<B>, std::enable_if_t<std::is_same_v<B, std::byte> ||
                                                   std::is_same_v<B, std::uint8_t>>> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const std::vector<B>& v) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  static void decode(wire::Cursor& in, std::vector<B>& v) {
    std::string_view s = in.take(in.remaining());
    v.resize(s.size());
    if (!s.empty()) std::memcpy(v.data(), s.data(), s.size());
  }
};

namespace wire {
// Sequence containers: the body is the elements, one after another.
template <class C>
struct SequenceCodec {
  static constexpr Kind kind = Kind::bytes;
  static void encode(std::string& out, const C& c) {
    for (const auto& e : c)
      put_value(out, e);
  }
  static void decode(Cursor& in, C& c) {
    c.clear();
    while (!in.empty()) {
      typename C::value_type e{};
      get_value(in, e);
      c.push_back(std::move(e));
    }
  }
};

template <class C>
struct SetCodec {
  static constexpr Kind kind = Kind::bytes;
  static void encode(std::string& out, const C& c) {
    for (const auto& e : c)
      put_value(out, e);
  }
  static void decode(Cursor& in, C& c) {
    c.clear();
    while (!in.empty()) {
      typename C::value_type e{};
      get_value(in, e);
      c.insert(std::move(e));
    }
  }
};

// Unordered containers iterate in an order that depends on their history
// (insertions, rehashes), so their entries are encoded one by one and written
// sorted by their bytes: equal contents always give equal records, and a task
// that only reads such a field writes nothing back. key_bytes(entry) tells how
// many leading bytes of an entry's encoding are its key.
template <class C, class EncodeEntry>
void put_sorted(std::string& out, const C& c, EncodeEntry encode_entry) {
  if (c.size() < 2) {
    for (const auto& e : c)
      encode_entry(out, e);
    return;
  }
  struct Span {
    std::size_t at, size, key;
  };
  std::string scratch;
  std::vector<Span> spans;
  spans.reserve(c.size());
  for (const auto& e : c) {
    const std::size_t at = scratch.size();
    const std::size_t key = encode_entry(scratch, e);
    spans.push_back(Span{at, scratch.size() - at, key});
  }
  const std::string_view all(scratch);
  std::sort(spans.begin(), spans.end(), [&](const Span& a, const Span& b) {
    return all.substr(a.at, a.key) < all.substr(b.at, b.key);
  });
  for (const Span& sp : spans)
    out.append(all.substr(sp.at, sp.size));
}

template <class C>
struct UnorderedSetCodec : SetCodec<C> {
  static void encode(std::string& out, const C& c) {
    put_sorted(out, c, [](std::string& o, const auto& e) {
      const std::size_t at = o.size();
      put_value(o, e);
      return o.size() - at;
    });
  }
};

template <class C>
struct MapCodec {
  static constexpr Kind kind = Kind::bytes;
  static void encode(std::string& out, const C& c) {
    for (const auto& [k, v] : c) {
      put_value(out, k);
      put_value(out, v);
    }
  }
  static void decode(Cursor& in, C& c) {
    c.clear();
    while (!in.empty()) {
      typename C::key_type k{};
      typename C::mapped_type v{};
      get_value(in, k);
      get_value(in, v);
      c.insert_or_assign(std::move(k), std::move(v));
    }
  }
};

template <class C>
struct UnorderedMapCodec : MapCodec<C> {
  static void encode(std::string& out, const C& c) {
    put_sorted(out, c, [](std::string& o, const auto& kv) {
      const std::size_t at = o.size();
      put_value(o, kv.first);
      const std::size_t key = o.size() - at;
      put_value(o, kv.second);
      return key;
    });
  }
};
}  // namespace wire

template <class T, class A>
struct FieldCodec<std::vector<T, A>, std::enable_if_t<!std::is_same_v<T, std::byte> &&
                                                      !std::is_same_v<T, std::uint8_t>>>
    : wire::SequenceCodec<std::vector<T, A>> {};
template <class T, class A>
struct FieldCodec<std::deque<T, A>> : wire::SequenceCodec<std::deque<T, A>> {};
template <class T, class C, class A>
struct FieldCodec<std::set<T, C, A>> : wire::SetCodec<std::set<T, C, A>> {};
template <class T, class H, class E, class A>
struct FieldCodec<std::unordered_set<T, H, E, A>>
    : wire::UnorderedSetCodec<std::unordered_set<T, H, E, A>> {};
template <class K, class V, class C, class A>
struct FieldCodec<std::map<K, V, C, A>> : wire::MapCodec<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct FieldCodec<std::unordered_map<K, V, H, E, A>>
    : wire::UnorderedMapCodec<std::unordered_map<K, V, H, E, A>> {};

template <class T, std::size_t N>
struct FieldCodec<std::array<T, N>> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const std::array<T, N>& a) {
    for (const auto& e : a)
      wire::put_value(out, e);
  }
  static void decode(wire::Cursor& in, std::array<T, N>& a) {
    for (auto& e : a) {
      if (in.empty()) wire::Cursor::fail("array has fewer than " + std::to_string(N) + " elements");
      wire::get_value(in, e);
    }
  }
};

template <class A, class B>
struct FieldCodec<std::pair<A, B>> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const std::pair<A, B>& p) {
    wire::put_value(out, p.first);
    wire::put_value(out, p.second);
  }
  static void decode(wire::Cursor& in, std::pair<A, B>& p) {
    wire::get_value(in, p.first);
    wire::get_value(in, p.second);
  }
};

// Stored as a presence byte and the value, so an empty optional is kept as
// empty even when the field's default is not.
template <class T>
struct FieldCodec<std::optional<T>> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const std::optional<T>& v) {
    out.push_back(v ? '\1' : '\0');
    if (v) wire::put_value(out, *v);
  }
  static void decode(wire::Cursor& in, std::optional<T>& v) {
    bool present = false;
    FieldCodec<bool>::decode(in, present);
    if (!present) {
      v.reset();
      return;
    }
    if (!v) v.emplace();
    wire::get_value(in, *v);
  }
};

template <class Rep, class Period>
struct FieldCodec<std::chrono::duration<Rep, Period>> {
  static constexpr wire::Kind kind = FieldCodec<Rep>::kind;
  static void encode(std::string& out, std::chrono::duration<Rep, Period> d) {
    FieldCodec<Rep>::encode(out, d.count());
  }
  static void decode(wire::Cursor& in, std::chrono::duration<Rep, Period>& d) {
    Rep r{};
    FieldCodec<Rep>::decode(in, r);
    d = std::chrono::duration<Rep, Period>(r);
  }
};

template <class Duration>
struct FieldCodec<std::chrono::time_point<std::chrono::system_clock, Duration>> {
  using TP = std::chrono::time_point<std::chrono::system_clock, Duration>;
  static constexpr wire::Kind kind = FieldCodec<Duration>::kind;
  static void encode(std::string& out, const TP& t) {
    FieldCodec<Duration>::encode(out, t.time_since_epoch());
  }
  static void decode(wire::Cursor& in, TP& t) {
    Duration d{};
    FieldCodec<Duration>::decode(in, d);
    t = TP(d);
  }
};

// A struct with its own fields() function: a nested message.
template <FieldStruct T>
struct FieldCodec<T> {
  static constexpr wire::Kind kind = wire::Kind::bytes;
  static void encode(std::string& out, const T& v) {
    FieldWriter w(out);
    const_cast<T&>(v).fields(w);
  }
  static void decode(wire::Cursor& in, T& v) {
    FieldReader r(in);
    in.take(in.remaining());
    v.fields(r);
  }
};

}  // namespace starhold
