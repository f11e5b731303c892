// Keys of an OrderedMap, stored as bytes whose byte order is the key's order.
//
// A field's own encoding (fields.hpp) does not sort: varints and zig-zag
// integers compare wrongly as bytes. An OrderedMap therefore stores each key
// in an order-preserving form, and compares those bytes as unsigned chars:
// - an unsigned integer of N bytes: its N bytes, most significant first;
// - a signed integer: the same with its sign bit flipped, so that negative
//   numbers come first;
// - std::string: its bytes with each 0x00 written as 0x00 0xFF, then the end
//   mark 0x00 0x01, so "a" < "a\0" < "ab" as for std::string;
// - std::pair and std::tuple: their members' forms one after another, which
//   orders them member by member, as their operator< does;
// - Descending<T>: the form of T with every byte complemented, which reverses
//   the order (no form above is a prefix of another, which makes this hold).
// Other key types are refused at compile time.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "starhold/fields.hpp"

namespace starhold {

// A key part that sorts in reverse: OrderedMap<std::pair<Descending<int>,
// std::string>, V> lists the highest score first, ties by name ascending.
template <class T>
struct Descending {
  T value{};
  friend auto operator<=>(const Descending& a, const Descending& b) { return b.value <=> a.value; }
  friend bool operator==(const Descending&, const Descending&) = default;
};

namespace detail {

// Appends key bytes, complemented while inside a Descending part.
class KeyWriter {
 public:
  explicit KeyWriter(std::string& out) : out_(out) {}
  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b ^ mask_)); }
  void flip() noexcept { mask_ ^= 0xFF; }

 private:
  std::string& out_;
  std::uint8_t mask_ = 0;
};

// Reads key bytes back; throws FieldError past the end.
class KeyReader {
 public:
  explicit KeyReader(std::string_view in) : in_(in) {}
  std::uint8_t byte() {
    if (at_ == in_.size()) wire::Cursor::fail("ordered key is truncated");
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(in_[at_++]) ^ mask_);
  }
  void flip() noexcept { mask_ ^= 0xFF; }
  bool done() const noexcept { return at_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t at_ = 0;
  std::uint8_t mask_ = 0;
};

template <class T>
struct KeyCodec {
  static constexpr bool supported = false;
};

template <class T>
requires(std::integral<T> && !std::same_as<T, bool>) struct KeyCodec<T> {
  static constexpr bool supported = true;
  using U = std::make_unsigned_t<T>;
  static constexpr U kSign = std::is_signed_v<T> ? static_cast<U>(U{1} << (sizeof(T) * 8 - 1)) : 0;
  static void encode(KeyWriter& w, T v) {
    const U u = static_cast<U>(static_cast<U>(v) ^ kSign);
    for (std::size_t i = sizeof(T); i-- > 0;)
      w.byte(static_cast<std::uint8_t>(u >> (8 * i)));
  }
  static void decode(KeyReader& r, T& v) {
    U u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      u = static_cast<U>((static_cast<std::uint64_t>(u) << 8) | r.byte());
    v = static_cast<T>(static_cast<U>(u ^ kSign));
  }
};

template <>
struct KeyCodec<std::string> {
  static constexpr bool supported = true;
  static void encode(KeyWriter& w, const std::string& s);
  static void decode(KeyReader& r, std::string& s);
};

template <class A, class B>
struct KeyCodec<std::pair<A, B>> {
  static constexpr bool supported = KeyCodec<A>::supported && KeyCodec<B>::supported;
  static void encode(KeyWriter& w, const std::pair<A, B>& p) {
    KeyCodec<A>::encode(w, p.first);
    KeyCodec<B>::encode(w, p.second);
  }
  static void decode(KeyReader& r, std::pair<A, B>& p) {
    KeyCodec<A>::decode(r, p.first);
    KeyCodec<B>::decode(r, p.second);
  }
};

template <class... Ts>
struct KeyCodec<std::tuple<Ts...>> {
  static constexpr bool supported = (KeyCodec<Ts>::supported && ...);
  static void encode(KeyWriter& w, const std::tuple<Ts...>& t) {
    std::apply([&](const Ts&... parts) { (KeyCodec<Ts>::encode(w, parts), ...); }, t);
  }
  static void decode(KeyReader& r, std::tuple<Ts...>& t) {
    std::apply([&](Ts&... parts) { (KeyCodec<Ts>::decode(r, parts), ...); }, t);
  }
};

template <class T>
struct KeyCodec<Descending<T>> {
  static constexpr bool supported = KeyCodec<T>::supported;
  static void encode(KeyWriter& w, const Descending<T>& d) {
    w.flip();
    KeyCodec<T>::encode(w, d.value);
    w.flip();
  }
  static void decode(KeyReader& r, Descending<T>& d) {
    r.flip();
    KeyCodec<T>::decode(r, d.value);
    r.flip();
  }
};

}  // namespace detail

// The key types an OrderedMap accepts (see the top of this file).
template <class T>
concept OrderedKey = detail::KeyCodec<T>::supported;

namespace detail {

template <OrderedKey K>
std::string encode_key(const K& key) {
  std::string out;
  KeyWriter w(out);
  KeyCodec<K>::encode(w, key);
  return out;
}

// Throws FieldError if bytes are not exactly one key of K.
template <OrderedKey K>
K decode_key(std::string_view bytes) {
  K key{};
  KeyReader r(bytes);
  KeyCodec<K>::decode(r, key);
  if (!r.done()) wire::Cursor::fail("ordered key has trailing bytes");
  return key;
}

}  // namespace detail
}  // namespace starhold
