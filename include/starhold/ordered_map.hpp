// OrderedMap and OrderedSet: scalable collections in key order, with a size
// and ranks, for logs (keyed by time and sequence) and leaderboards (keyed by
// score and player).
//
// An OrderedMap is a B+-tree of managed nodes. A leaf holds up to 32 entries
// in key order and splits in two past that; an internal node holds up to 64
// children. Every call but for_each reads or writes O(log n) nodes, so a map
// of millions of entries works inside ordinary tasks. Empty nodes are freed,
// a node under a quarter full is merged with a neighbour when the two fit in
// three quarters of one, and the root (whose id is the map's handle) gains
// or loses a level.
//
// Size and rank come from entry counts: each internal node keeps the number
// of entries under each of its children, in a separate managed object, so
// size() reads the root and its counts, and rank()/at() O(log n) objects.
// What this costs in conflicts:
// - put of a new key and erase of a present key write the counts of every
//   node from the root to the leaf, so two of them in one map always
//   conflict. They start by declaring the root for update, so Starhold's
//   contention management queues writers of one map one after another
//   instead of aborting them: a map takes inserts at the rate of a hot
//   counter, not in parallel. put of an existing key (a new value) queues
//   the same way but writes only its leaf.
// - get, contains, lower_bound, first/last, next/prev and for_each read the
//   internal nodes and leaves but not the counts, so they conflict only with
//   a change to a leaf they read or a split or merge above it (about one
//   insert in sixteen splits a leaf); size, rank and at read the counts and
//   conflict with any concurrent insert or erase. A read-only task never
//   conflicts at all.
// A single count in the root would serialise writers just the same and give
// no rank, which a leaderboard needs; a map that takes many concurrent
// inserts and needs neither order nor size is a ScalableMap.
//
// Keys must be OrderedKey types (ordered_key.hpp): integers, std::string,
// std::pair/std::tuple of those, and Descending<> of any of them. Values are
// any field-encodable type, stored by value; to hold managed objects, store
// Ref<T>. The handle is storable in a managed object's fields. Every call
// needs the running task's Transaction and may throw what Transaction::get
// throws; calls on a null handle throw UsageError.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "starhold/collections.hpp"
#include "starhold/data.hpp"
#include "starhold/ordered_key.hpp"
#include "starhold/task.hpp"

namespace starhold {

namespace detail {

// Entry counts of an internal node's children, one per child.
struct OrderedCounts final : Managed<OrderedCounts> {
  static constexpr std::string_view type_name = "starhold.OrderedCounts";
  std::vector<std::uint64_t> counts;
  template <class F>
  void fields(F& f) {
    f(1, counts);
  }
};

// A node of an OrderedMap. A leaf (height 0) holds entries; an internal node
// holds children, where child i holds the keys k with keys[i-1] <= k < keys[i].
struct OrderedNode final : Managed<OrderedNode> {
  static constexpr std::string_view type_name = "starhold.OrderedNode";
  std::uint32_t height = 0;
  std::vector<std::string> keys;    // ordered key bytes (ordered_key.hpp)
  std::vector<std::string> values;  // encoded values; leaves only
  std::vector<Ref<OrderedNode>> children;
  Ref<OrderedCounts> counts;
  template <class F>
  void fields(F& f) {
    f(1, height);
    f(2, keys);
    f(3, values);
    f(4, children);
    f(5, counts);
  }
};

// The untyped operations behind OrderedMap, on key bytes and encoded values.
struct OrderedOps {
  using Entry = std::pair<std::string, std::string>;
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  static Ref<OrderedNode> create(Transaction& tx);
  static std::optional<std::string> find(Transaction& tx, Ref<OrderedNode> root,
                                         std::string_view key);
  // Returns true if key was not present.
  static bool put(Transaction& tx, Ref<OrderedNode> root, std::string key, std::string value);
  static bool erase(Transaction& tx, Ref<OrderedNode> root, std::string_view key);
  static std::uint64_t size(Transaction& tx, Ref<OrderedNode> root);
  // The first entry >= key (or > key when !inclusive); the first entry when key is null.
  static std::optional<Entry> seek_up(Transaction& tx, Ref<OrderedNode> root,
                                      const std::string* key, bool inclusive);
  // The last entry < key; the last entry when key is null.
  static std::optional<Entry> seek_down(Transaction& tx, Ref<OrderedNode> root,
                                        const std::string* key);
  // The number of entries < key.
  static std::uint64_t rank(Transaction& tx, Ref<OrderedNode> root, std::string_view key);
  static std::optional<Entry> at(Transaction& tx, Ref<OrderedNode> root, std::uint64_t index);
  // Calls fn for each entry in key order (or reverse) until it returns false.
  static void visit(Transaction& tx, Ref<OrderedNode> root, bool reverse, const Visitor& fn);
  static void destroy(Transaction& tx, Ref<OrderedNode> root);
};

// Calls fn(args...), which may return void (go on) or bool (false stops).
template <class Fn, class... Args>
bool call_visitor(Fn& fn, const Args&... args) {
  if constexpr (std::is_void_v<decltype(fn(args...))>) {
    fn(args...);
    return true;
  } else {
    return static_cast<bool>(fn(args...));
  }
}

}  // namespace detail

template <class K, class V>
class OrderedMap {
  static_assert(OrderedKey<K>,
                "starhold: an OrderedMap key must be an integer, std::string, a std::pair or "
                "std::tuple of those, or starhold::Descending<> of one (see ordered_key.hpp)");

 public:
  using Entry = std::pair<K, V>;

  // A null handle; use create().
  OrderedMap() = default;

  // Creates an empty map in this task.
  static OrderedMap create(Transaction& tx) { return OrderedMap(detail::OrderedOps::create(tx)); }

  explicit operator bool() const noexcept { return static_cast<bool>(root_); }

  // The value of key, or nullopt.
  std::optional<V> get(Transaction& tx, const K& key) const {
    auto v = detail::OrderedOps::find(tx, root(), detail::encode_key(key));
    if (!v) return std::nullopt;
    return detail::decode_value<V>(*v);
  }
  bool contains(Transaction& tx, const K& key) const {
    return detail::OrderedOps::find(tx, root(), detail::encode_key(key)).has_value();
  }
  // Sets key to value. Returns true if key was not in the map.
  bool put(Transaction& tx, const K& key, const V& value) {
    return detail::OrderedOps::put(tx, root(), detail::encode_key(key),
                                   detail::encode_value(value));
  }
  // Removes key. Returns false if it was not in the map.
  bool erase(Transaction& tx, const K& key) {
    return detail::OrderedOps::erase(tx, root(), detail::encode_key(key));
  }
  // The number of entries; reads the root and its counts, never walks.
  std::uint64_t size(Transaction& tx) const { return detail::OrderedOps::size(tx, root()); }
  bool empty(Transaction& tx) const { return !first(tx).has_value(); }

  // The entry with the smallest (first) or largest (last) key, or nullopt.
  std::optional<Entry> first(Transaction& tx) const {
    return typed(detail::OrderedOps::seek_up(tx, root(), nullptr, false));
  }
  std::optional<Entry> last(Transaction& tx) const {
    return typed(detail::OrderedOps::seek_down(tx, root(), nullptr));
  }
  // The first entry whose key is >= key, or nullopt.
  std::optional<Entry> lower_bound(Transaction& tx, const K& key) const {
    const std::string k = detail::encode_key(key);
    return typed(detail::OrderedOps::seek_up(tx, root(), &k, true));
  }
  // The first entry whose key is > after (the first entry when after is
  // nullopt), or nullopt. `after` need not be in the map, so a walk can go on
  // in a later task whatever changed meanwhile.
  std::optional<Entry> next(Transaction& tx, const std::optional<K>& after) const {
    if (!after) return first(tx);
    const std::string k = detail::encode_key(*after);
    return typed(detail::OrderedOps::seek_up(tx, root(), &k, false));
  }
  // The last entry whose key is < before (the last entry when before is
  // nullopt), or nullopt: next() walking backwards.
  std::optional<Entry> prev(Transaction& tx, const std::optional<K>& before) const {
    if (!before) return last(tx);
    const std::string k = detail::encode_key(*before);
    return typed(detail::OrderedOps::seek_down(tx, root(), &k));
  }
  // The number of entries whose key is < key: key's 0-based position if it
  // is in the map. O(log n) objects read.
  std::uint64_t rank(Transaction& tx, const K& key) const {
    return detail::OrderedOps::rank(tx, root(), detail::encode_key(key));
  }
  // The entry at 0-based position index in key order, or nullopt past the end.
  std::optional<Entry> at(Transaction& tx, std::uint64_t index) const {
    return typed(detail::OrderedOps::at(tx, root(), index));
  }

  // Calls fn(key, value) for each entry in key order until fn returns false
  // (fn may also return void); fn must not change this map. Reads every
  // node it passes: in a large map, stop early or walk with next() over
  // several tasks.
  template <class Fn>
  void for_each(Transaction& tx, Fn&& fn) const {
    visit(tx, false, fn);
  }
  // As for_each, from the largest key down ("top 10 by score").
  template <class Fn>
  void for_each_reverse(Transaction& tx, Fn&& fn) const {
    visit(tx, true, fn);
  }

  // Removes the map's nodes; the handle becomes null.
  void destroy(Transaction& tx) {
    detail::OrderedOps::destroy(tx, root());
    root_ = Ref<detail::OrderedNode>();
  }

  Ref<detail::OrderedNode> root() const {
    if (!root_) throw UsageError("use of a null OrderedMap (create it with OrderedMap::create)");
    return root_;
  }
  friend bool operator==(const OrderedMap&, const OrderedMap&) = default;

 private:
  explicit OrderedMap(Ref<detail::OrderedNode> root) : root_(root) {}
  template <class, class>
  friend struct FieldCodec;

  static std::optional<Entry> typed(std::optional<detail::OrderedOps::Entry> e) {
    if (!e) return std::nullopt;
    return Entry(detail::decode_key<K>(e->first), detail::decode_value<V>(e->second));
  }
  template <class Fn>
  void visit(Transaction& tx, bool reverse, Fn& fn) const {
    detail::OrderedOps::visit(tx, root(), reverse, [&](std::string_view k, std::string_view v) {
      return detail::call_visitor(fn, detail::decode_key<K>(k), detail::decode_value<V>(v));
    });
  }

  Ref<detail::OrderedNode> root_;
};

// An OrderedMap without values; same costs and contracts.
template <class K>
class OrderedSet {
 public:
  OrderedSet() = default;
  static OrderedSet create(Transaction& tx) {
    OrderedSet s;
    s.map_ = OrderedMap<K, detail::Unit>::create(tx);
    return s;
  }
  explicit operator bool() const noexcept { return static_cast<bool>(map_); }
  bool contains(Transaction& tx, const K& key) const { return map_.contains(tx, key); }
  // Returns true if key was not in the set.
  bool insert(Transaction& tx, const K& key) { return map_.put(tx, key, detail::Unit{}); }
  // Returns false if key was not in the set.
  bool erase(Transaction& tx, const K& key) { return map_.erase(tx, key); }
  std::uint64_t size(Transaction& tx) const { return map_.size(tx); }
  std::optional<K> first(Transaction& tx) const { return key_of(map_.first(tx)); }
  std::optional<K> last(Transaction& tx) const { return key_of(map_.last(tx)); }
  std::optional<K> lower_bound(Transaction& tx, const K& key) const {
    return key_of(map_.lower_bound(tx, key));
  }
  std::optional<K> next(Transaction& tx, const std::optional<K>& after) const {
    return key_of(map_.next(tx, after));
  }
  std::optional<K> prev(Transaction& tx, const std::optional<K>& before) const {
    return key_of(map_.prev(tx, before));
  }
  std::uint64_t rank(Transaction& tx, const K& key) const { return map_.rank(tx, key); }
  std::optional<K> at(Transaction& tx, std::uint64_t index) const {
    return key_of(map_.at(tx, index));
  }
  // Calls fn(key) in key order (or reverse) until it returns false.
  template <class Fn>
  void for_each(Transaction& tx, Fn&& fn) const {
    map_.for_each(tx, [&](const K& k, const detail::Unit&) { return detail::call_visitor(fn, k); });
  }
  template <class Fn>
  void for_each_reverse(Transaction& tx, Fn&& fn) const {
    map_.for_each_reverse(
        tx, [&](const K& k, const detail::Unit&) { return detail::call_visitor(fn, k); });
  }
  void destroy(Transaction& tx) { map_.destroy(tx); }
  friend bool operator==(const OrderedSet&, const OrderedSet&) = default;

 private:
  template <class, class>
  friend struct FieldCodec;
  static std::optional<K> key_of(std::optional<std::pair<K, detail::Unit>> e) {
    if (!e) return std::nullopt;
    return std::move(e->first);
  }
  OrderedMap<K, detail::Unit> map_;
};

template <class K, class V>
struct FieldCodec<OrderedMap<K, V>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, const OrderedMap<K, V>& m) {
    wire::put_varint(out, m.root_.id().value);
  }
  static void decode(wire::Cursor& in, OrderedMap<K, V>& m) {
    m.root_ = Ref<detail::OrderedNode>(ObjectId{in.varint()});
  }
};

template <class K>
struct FieldCodec<OrderedSet<K>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, const OrderedSet<K>& s) {
    FieldCodec<OrderedMap<K, detail::Unit>>::encode(out, s.map_);
  }
  static void decode(wire::Cursor& in, OrderedSet<K>& s) {
    FieldCodec<OrderedMap<K, detail::Unit>>::decode(in, s.map_);
  }
};

}  // namespace starhold
