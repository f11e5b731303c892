// Scalable collections of values, for sets too large or too busy to live in
// one managed object (a world's players, a zone's entities).
//
// A ScalableMap is a trie of managed nodes keyed by a hash of the key: each
// leaf holds a few dozen entries and splits when it grows past that. An
// insert or erase touches one leaf, so concurrent inserts and erases of
// distinct keys conflict only when their keys share a leaf, which is rare once
// the map is large. Internal nodes never change after they split. There is no
// size counter (it would make every insert conflict); size() walks the map.
//
// Keys and values are any field-encodable types (see fields.hpp), stored by
// value; to hold managed objects, store Ref<T>. A key's encoding must be
// canonical (equal keys encode to equal bytes): every supported type except
// unordered containers is.
//
// A ScalableMap value is a handle: copy it into a managed object's fields and
// use it in later tasks. All calls need the task's Transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "starhold/data.hpp"
#include "starhold/task.hpp"

namespace starhold {

namespace detail {

// A node of a map's trie. Either a leaf (entries) or internal (children).
struct MapNode final : Managed<MapNode> {
  static constexpr std::string_view type_name = "starhold.MapNode";
  std::uint32_t depth = 0;  // hash bits consumed above this node
  std::vector<Ref<MapNode>> children;
  // Leaf entries: (key hash, encoded key, encoded value), sorted by hash then key.
  std::vector<std::uint64_t> hashes;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  template <class F>
  void fields(F& f) {
    f(1, depth);
    f(2, children);
    f(3, hashes);
    f(4, keys);
    f(5, values);
  }
};

// The untyped operations behind ScalableMap, on encoded keys and values.
struct MapOps {
  static Ref<MapNode> create(Transaction& tx, unsigned min_concurrency);
  // The encoded value of key, or nullopt.
  static std::optional<std::string> find(Transaction& tx, Ref<MapNode> root, std::string_view key);
  // Returns true if key was not present.
  static bool put(Transaction& tx, Ref<MapNode> root, std::string key, std::string value);
  static bool erase(Transaction& tx, Ref<MapNode> root, std::string_view key);
  // The first entry after `after` (or the first entry) in the map's order.
  static std::optional<std::pair<std::string, std::string>> next(
      Transaction& tx, Ref<MapNode> root, const std::optional<std::string>& after);
  // Calls fn for each entry in the map's order until it returns false.
  static void visit(Transaction& tx, Ref<MapNode> root,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn);
  static void destroy(Transaction& tx, Ref<MapNode> root);
  static std::uint64_t hash(std::string_view key) noexcept;
};

template <class T>
std::string encode_value(const T& v) {
  std::string out;
  FieldCodec<T>::encode(out, v);
  return out;
}

template <class T>
T decode_value(std::string_view bytes) {
  T v{};
  wire::Cursor c(bytes);
  FieldCodec<T>::decode(c, v);
  return v;
}

}  // namespace detail

template <class K, class V>
class ScalableMap {
 public:
  // A null handle; use create().
  ScalableMap() = default;

  // Creates an empty map in this task. min_concurrency (rounded up to a power
  // of 16) is how many leaves it starts with: more leaves, fewer conflicts
  // while it is small.
  static ScalableMap create(Transaction& tx, unsigned min_concurrency = 16) {
    return ScalableMap(detail::MapOps::create(tx, min_concurrency));
  }

  explicit operator bool() const noexcept { return static_cast<bool>(root_); }

  // The value of key, or nullopt.
  std::optional<V> get(Transaction& tx, const K& key) const {
    auto v = detail::MapOps::find(tx, root(), detail::encode_value(key));
    if (!v) return std::nullopt;
    return detail::decode_value<V>(*v);
  }
  bool contains(Transaction& tx, const K& key) const {
    return detail::MapOps::find(tx, root(), detail::encode_value(key)).has_value();
  }
  // Sets key to value. Returns true if key was not in the map.
  bool put(Transaction& tx, const K& key, const V& value) {
    return detail::MapOps::put(tx, root(), detail::encode_value(key), detail::encode_value(value));
  }
  // Removes key. Returns false if it was not in the map.
  bool erase(Transaction& tx, const K& key) {
    return detail::MapOps::erase(tx, root(), detail::encode_value(key));
  }
  // Calls fn(key, value) for every entry, in the map's (hash) order, until fn
  // returns false (fn may also return void). Reads the whole map: in a large
  // map, prefer next() over several tasks.
  template <class Fn>
  void for_each(Transaction& tx, Fn&& fn) const {
    detail::MapOps::visit(tx, root(), [&](std::string_view k, std::string_view v) {
      if constexpr (std::is_void_v<decltype(fn(std::declval<const K&>(),
                                               std::declval<const V&>()))>) {
        fn(detail::decode_value<K>(k), detail::decode_value<V>(v));
        return true;
      } else {
        return static_cast<bool>(fn(detail::decode_value<K>(k), detail::decode_value<V>(v)));
      }
    });
  }
  // The entry after key `after` in the map's order (the first entry when
  // after is nullopt), or nullopt at the end. `after` need not be in the map,
  // so a walk can continue in a later task after concurrent changes.
  std::optional<std::pair<K, V>> next(Transaction& tx, const std::optional<K>& after) const {
    std::optional<std::string> a;
    if (after) a = detail::encode_value(*after);
    auto e = detail::MapOps::next(tx, root(), a);
    if (!e) return std::nullopt;
    return std::pair<K, V>(detail::decode_value<K>(e->first), detail::decode_value<V>(e->second));
  }
  // Counts the entries by walking the map.
  std::size_t size(Transaction& tx) const {
    std::size_t n = 0;
    detail::MapOps::visit(tx, root(), [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    return n;
  }
  // Removes the map's nodes; the handle becomes null.
  void destroy(Transaction& tx) {
    detail::MapOps::destroy(tx, root());
    root_ = Ref<detail::MapNode>();
  }

  Ref<detail::MapNode> root() const {
    if (!root_) throw UsageError("use of a null ScalableMap (create it with ScalableMap::create)");
    return root_;
  }
  friend bool operator==(const ScalableMap&, const ScalableMap&) = default;

 private:
  explicit ScalableMap(Ref<detail::MapNode> root) : root_(root) {}
  template <class, class>
  friend struct FieldCodec;
  Ref<detail::MapNode> root_;
};

namespace detail {
struct Unit {
  template <class F>
  void fields(F&) {}
};
}  // namespace detail

// A ScalableMap without values.
template <class K>
class ScalableSet {
 public:
  ScalableSet() = default;
  static ScalableSet create(Transaction& tx, unsigned min_concurrency = 16) {
    ScalableSet s;
    s.map_ = ScalableMap<K, detail::Unit>::create(tx, min_concurrency);
    return s;
  }
  explicit operator bool() const noexcept { return static_cast<bool>(map_); }
  bool contains(Transaction& tx, const K& key) const { return map_.contains(tx, key); }
  // Returns true if key was not in the set.
  bool insert(Transaction& tx, const K& key) { return map_.put(tx, key, detail::Unit{}); }
  bool erase(Transaction& tx, const K& key) { return map_.erase(tx, key); }
  template <class Fn>
  void for_each(Transaction& tx, Fn&& fn) const {
    map_.for_each(tx, [&](const K& k, const detail::Unit&) { return fn(k); });
  }
  std::optional<K> next(Transaction& tx, const std::optional<K>& after) const {
    auto e = map_.next(tx, after);
    if (!e) return std::nullopt;
    return std::move(e->first);
  }
  std::size_t size(Transaction& tx) const { return map_.size(tx); }
  void destroy(Transaction& tx) { map_.destroy(tx); }
  friend bool operator==(const ScalableSet&, const ScalableSet&) = default;

 private:
  template <class, class>
  friend struct FieldCodec;
  ScalableMap<K, detail::Unit> map_;
};

template <class K, class V>
struct FieldCodec<ScalableMap<K, V>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, const ScalableMap<K, V>& m) {
    wire::put_varint(out, m.root_.id().value);
  }
  static void decode(wire::Cursor& in, ScalableMap<K, V>& m) {
    m.root_ = Ref<detail::MapNode>(ObjectId{in.varint()});
  }
};

template <class K>
struct FieldCodec<ScalableSet<K>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, const ScalableSet<K>& s) {
    FieldCodec<ScalableMap<K, detail::Unit>>::encode(out, s.map_);
  }
  static void decode(wire::Cursor& in, ScalableSet<K>& s) {
    FieldCodec<ScalableMap<K, detail::Unit>>::decode(in, s.map_);
  }
};

}  // namespace starhold
