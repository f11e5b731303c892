// The hash trie behind ScalableMap. Each level consumes 4 bits of the key's
// 64-bit hash (from the top), so an internal node has 16 children. A leaf
// holds at most kMaxLeaf entries, ordered by (hash, key); past that it turns
// into an internal node with 16 new leaves.
#include <algorithm>
#include <tuple>

#include "starhold/collections.hpp"

namespace starhold::detail {
namespace {

constexpr unsigned kFanBits = 4;
constexpr unsigned kFan = 1u << kFanBits;
constexpr std::size_t kMaxLeaf = 32;

unsigned child_index(std::uint64_t hash, std::uint32_t depth) {
  return static_cast<unsigned>((hash << depth) >> (64 - kFanBits));
}

bool is_leaf(const MapNode& n) {
  return n.children.empty();
}

Ref<MapNode> make_node(Transaction& tx, std::uint32_t depth, unsigned levels) {
  auto& node = tx.create<MapNode>();
  node.depth = depth;
  if (levels > 0) {
    node.children.reserve(kFan);
    for (unsigned i = 0; i < kFan; ++i) {
      node.children.push_back(make_node(tx, depth + kFanBits, levels - 1));
    }
  }
  return node;
}

// The leaf that holds (or would hold) hash.
MapNode& leaf_for(Transaction& tx, Ref<MapNode> root, std::uint64_t hash) {
  MapNode* n = &tx.get(root);
  while (!is_leaf(*n))
    n = &tx.get(n->children[child_index(hash, n->depth)]);
  return *n;
}

// Position of (hash, key) in a leaf: the first entry not less than it.
std::size_t position(const MapNode& leaf, std::uint64_t hash, std::string_view key) {
  std::size_t lo = 0, hi = leaf.hashes.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (std::tie(leaf.hashes[mid], leaf.keys[mid]) < std::make_tuple(hash, key)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

bool holds(const MapNode& leaf, std::size_t at, std::uint64_t hash, std::string_view key) {
  return at < leaf.hashes.size() && leaf.hashes[at] == hash && leaf.keys[at] == key;
}

void split(Transaction& tx, MapNode& leaf) {
  std::vector<MapNode*> kids;
  for (unsigned i = 0; i < kFan; ++i) {
    auto& kid = tx.create<MapNode>();
    kid.depth = leaf.depth + kFanBits;
    kids.push_back(&kid);
    leaf.children.push_back(kid);
  }
  // Entries are in hash order, so each child receives an ordered run.
  for (std::size_t i = 0; i < leaf.hashes.size(); ++i) {
    MapNode& kid = *kids[child_index(leaf.hashes[i], leaf.depth)];
    kid.hashes.push_back(leaf.hashes[i]);
    kid.keys.push_back(std::move(leaf.keys[i]));
    kid.values.push_back(std::move(leaf.values[i]));
  }
  leaf.hashes.clear();
  leaf.keys.clear();
  leaf.values.clear();
}

using Entry = std::pair<std::string, std::string>;

// The first entry in n's subtree after (hash, key) when bounded, else its first entry.
std::optional<Entry> first_after(Transaction& tx, MapNode& n, bool bounded, std::uint64_t hash,
                                 std::string_view key) {
  if (is_leaf(n)) {
    std::size_t at = bounded ? position(n, hash, key) : 0;
    if (bounded && holds(n, at, hash, key)) ++at;
    if (at >= n.hashes.size()) return std::nullopt;
    return Entry(n.keys[at], n.values[at]);
  }
  unsigned start = bounded ? child_index(hash, n.depth) : 0;
  for (unsigned i = start; i < kFan; ++i) {
    const bool bound_here = bounded && i == start;
    if (auto e = first_after(tx, tx.get(n.children[i]), bound_here, hash, key)) return e;
  }
  return std::nullopt;
}

bool visit_node(Transaction& tx, MapNode& n,
                const std::function<bool(std::string_view, std::string_view)>& fn) {
  if (is_leaf(n)) {
    for (std::size_t i = 0; i < n.hashes.size(); ++i) {
      if (!fn(n.keys[i], n.values[i])) return false;
    }
    return true;
  }
  for (auto& child : n.children) {
    if (!visit_node(tx, tx.get(child), fn)) return false;
  }
  return true;
}

}  // namespace

std::uint64_t MapOps::hash(std::string_view key) noexcept {
  // FNV-1a, then a 64-bit finaliser so that the top bits (used first) mix well.
  std::uint64_t h = 14695981039346656037ull;
  for (char c : key) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

Ref<MapNode> MapOps::create(Transaction& tx, unsigned min_concurrency) {
  unsigned levels = 0;
  for (unsigned leaves = 1; leaves < min_concurrency && levels < 3; leaves *= kFan)
    ++levels;
  return make_node(tx, 0, levels);
}

std::optional<std::string> MapOps::find(Transaction& tx, Ref<MapNode> root, std::string_view key) {
  const std::uint64_t h = hash(key);
  MapNode& leaf = leaf_for(tx, root, h);
  const std::size_t at = position(leaf, h, key);
  if (!holds(leaf, at, h, key)) return std::nullopt;
  return leaf.values[at];
}

bool MapOps::put(Transaction& tx, Ref<MapNode> root, std::string key, std::string value) {
  const std::uint64_t h = hash(key);
  MapNode& leaf = leaf_for(tx, root, h);
  tx.mark_for_update(leaf);
  const std::size_t at = position(leaf, h, key);
  if (holds(leaf, at, h, key)) {
    if (leaf.values[at] != value) leaf.values[at] = std::move(value);
    return false;
  }
  const auto offset = static_cast<std::ptrdiff_t>(at);
  leaf.hashes.insert(leaf.hashes.begin() + offset, h);
  leaf.keys.insert(leaf.keys.begin() + offset, std::move(key));
  leaf.values.insert(leaf.values.begin() + offset, std::move(value));
  if (leaf.hashes.size() > kMaxLeaf && leaf.depth + kFanBits <= 64) split(tx, leaf);
  return true;
}

bool MapOps::erase(Transaction& tx, Ref<MapNode> root, std::string_view key) {
  const std::uint64_t h = hash(key);
  MapNode& leaf = leaf_for(tx, root, h);
  const std::size_t at = position(leaf, h, key);
  if (!holds(leaf, at, h, key)) return false;
  tx.mark_for_update(leaf);
  const auto offset = static_cast<std::ptrdiff_t>(at);
  leaf.hashes.erase(leaf.hashes.begin() + offset);
  leaf.keys.erase(leaf.keys.begin() + offset);
  leaf.values.erase(leaf.values.begin() + offset);
  return true;
}

std::optional<std::pair<std::string, std::string>> MapOps::next(
    Transaction& tx, Ref<MapNode> root, const std::optional<std::string>& after) {
  if (!after) return first_after(tx, tx.get(root), false, 0, {});
  return first_after(tx, tx.get(root), true, hash(*after), *after);
}

void MapOps::visit(Transaction& tx, Ref<MapNode> root,
                   const std::function<bool(std::string_view, std::string_view)>& fn) {
  visit_node(tx, tx.get(root), fn);
}

void MapOps::destroy(Transaction& tx, Ref<MapNode> root) {
  MapNode& n = tx.get(root);
  for (auto& child : n.children)
    destroy(tx, child);
  tx.remove(n);
}

}  // namespace starhold::detail
