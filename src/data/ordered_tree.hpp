// Node helpers shared by the reads (ordered_map.cpp) and the changes
// (ordered_map_edit.cpp) of the B+-tree behind OrderedMap.
//
// Keys are byte strings compared as unsigned bytes, which ordered_key.hpp
// makes the keys' order. In an internal node, child i holds the keys k with
// keys[i-1] <= k < keys[i]; a separator is the first key of the right node
// when that node was made, and stays a valid bound after erases. A node
// other than the root is never empty. counts[i] is the number of entries
// under child i.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "starhold/ordered_map.hpp"

namespace starhold::detail::ordered {

using Node = OrderedNode;
using Entry = OrderedOps::Entry;

inline constexpr std::size_t kMaxLeaf = 32;
inline constexpr std::size_t kMaxFan = 64;

inline bool is_leaf(const Node& n) noexcept {
  return n.height == 0;
}
// Entries of a leaf, children of an internal node.
inline std::size_t width(const Node& n) noexcept {
  return is_leaf(n) ? n.keys.size() : n.children.size();
}
inline std::size_t capacity(const Node& n) noexcept {
  return is_leaf(n) ? kMaxLeaf : kMaxFan;
}

// The node, after checking that its vectors agree (a corrupted record must
// not index past them). Throws DecodeError.
Node& load(Transaction& tx, Ref<Node> ref);
// The counts of internal node n, checked against its children.
const std::vector<std::uint64_t>& counts_of(Transaction& tx, const Node& n);
std::vector<std::uint64_t>& counts_for_update(Transaction& tx, const Node& n);
// The number of entries under n.
std::uint64_t total(Transaction& tx, const Node& n);

// The child of internal node n whose range holds key.
inline std::size_t child_for(const Node& n, std::string_view key) {
  return static_cast<std::size_t>(std::upper_bound(n.keys.begin(), n.keys.end(), key) -
                                  n.keys.begin());
}
// The first entry of leaf n whose key is >= key.
inline std::size_t position(const Node& leaf, std::string_view key) {
  return static_cast<std::size_t>(std::lower_bound(leaf.keys.begin(), leaf.keys.end(), key) -
                                  leaf.keys.begin());
}

}  // namespace starhold::detail::ordered
