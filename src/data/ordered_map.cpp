// Reads of the B+-tree behind OrderedMap (layout in ordered_tree.hpp).
// Every read descends from the root; seeks that miss in one subtree go on
// into the next, so they stay correct whatever separators erases left behind.
#include <numeric>

#include "data/ordered_tree.hpp"

namespace starhold::detail {
namespace ordered {

namespace {
[[noreturn]] void corrupt(const Node& n, const char* what) {
  throw DecodeError(n.id().value, std::string(Node::type_name), what);
}
}  // namespace

Node& load(Transaction& tx, Ref<Node> ref) {
  Node& n = tx.get(ref);
  if (is_leaf(n) ? n.values.size() != n.keys.size() || !n.children.empty()
                 : n.keys.size() + 1 != n.children.size() || !n.values.empty()) {
    corrupt(n, "ordered map node: keys, values and children do not agree");
  }
  return n;
}

const std::vector<std::uint64_t>& counts_of(Transaction& tx, const Node& n) {
  const auto& c = tx.get(n.counts).counts;
  if (c.size() != n.children.size()) corrupt(n, "ordered map node: counts do not match children");
  return c;
}

std::vector<std::uint64_t>& counts_for_update(Transaction& tx, const Node& n) {
  (void)counts_of(tx, n);
  return tx.get_for_update(n.counts).counts;
}

std::uint64_t total(Transaction& tx, const Node& n) {
  if (is_leaf(n)) return n.keys.size();
  const auto& c = counts_of(tx, n);
  return std::accumulate(c.begin(), c.end(), std::uint64_t{0});
}

}  // namespace ordered

namespace {
using namespace ordered;

Entry entry(const Node& leaf, std::size_t i) {
  return Entry(leaf.keys[i], leaf.values[i]);
}

std::optional<Entry> up(Transaction& tx, const Node& n, const std::string* key, bool inclusive) {
  if (is_leaf(n)) {
    std::size_t i = 0;
    if (key != nullptr) {
      i = position(n, *key);
      if (!inclusive && i < n.keys.size() && n.keys[i] == *key) ++i;
    }
    if (i < n.keys.size()) return entry(n, i);
    return std::nullopt;
  }
  // Every key in a child after child_for's is above key.
  for (std::size_t i = key != nullptr ? child_for(n, *key) : 0; i < n.children.size(); ++i) {
    if (auto e = up(tx, load(tx, n.children[i]), key, inclusive)) return e;
    key = nullptr;
  }
  return std::nullopt;
}

std::optional<Entry> down(Transaction& tx, const Node& n, const std::string* key) {
  if (is_leaf(n)) {
    const std::size_t i = key != nullptr ? position(n, *key) : n.keys.size();
    if (i > 0) return entry(n, i - 1);
    return std::nullopt;
  }
  // Every key in a child before child_for's is below key.
  for (std::size_t i = key != nullptr ? child_for(n, *key) + 1 : n.children.size(); i-- > 0;) {
    if (auto e = down(tx, load(tx, n.children[i]), key)) return e;
    key = nullptr;
  }
  return std::nullopt;
}

bool visit_node(Transaction& tx, const Node& n, bool reverse, const OrderedOps::Visitor& fn) {
  const std::size_t w = width(n);
  for (std::size_t j = 0; j < w; ++j) {
    const std::size_t i = reverse ? w - 1 - j : j;
    const bool go_on = is_leaf(n) ? fn(n.keys[i], n.values[i])
                                  : visit_node(tx, load(tx, n.children[i]), reverse, fn);
    if (!go_on) return false;
  }
  return true;
}

void destroy_node(Transaction& tx, Ref<Node> ref) {
  const Node& n = load(tx, ref);
  for (const auto& child : n.children)
    destroy_node(tx, child);
  if (n.counts) tx.remove(n.counts);
  tx.remove(n);
}

}  // namespace

Ref<OrderedNode> OrderedOps::create(Transaction& tx) {
  return tx.create<OrderedNode>();
}

std::optional<std::string> OrderedOps::find(Transaction& tx, Ref<OrderedNode> root,
                                            std::string_view key) {
  const Node* n = &load(tx, root);
  while (!is_leaf(*n))
    n = &load(tx, n->children[child_for(*n, key)]);
  const std::size_t at = position(*n, key);
  if (at == n->keys.size() || n->keys[at] != key) return std::nullopt;
  return n->values[at];
}

std::uint64_t OrderedOps::size(Transaction& tx, Ref<OrderedNode> root) {
  return total(tx, load(tx, root));
}

std::optional<Entry> OrderedOps::seek_up(Transaction& tx, Ref<OrderedNode> root,
                                         const std::string* key, bool inclusive) {
  return up(tx, load(tx, root), key, inclusive);
}

std::optional<Entry> OrderedOps::seek_down(Transaction& tx, Ref<OrderedNode> root,
                                           const std::string* key) {
  return down(tx, load(tx, root), key);
}

std::uint64_t OrderedOps::rank(Transaction& tx, Ref<OrderedNode> root, std::string_view key) {
  const Node* n = &load(tx, root);
  std::uint64_t below = 0;
  while (!is_leaf(*n)) {
    const std::size_t i = child_for(*n, key);
    const auto& c = counts_of(tx, *n);
    below = std::accumulate(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(i), below);
    n = &load(tx, n->children[i]);
  }
  return below + position(*n, key);
}

std::optional<Entry> OrderedOps::at(Transaction& tx, Ref<OrderedNode> root, std::uint64_t index) {
  const Node* n = &load(tx, root);
  while (!is_leaf(*n)) {
    const auto& c = counts_of(tx, *n);
    std::size_t i = 0;
    while (i < c.size() && index >= c[i])
      index -= c[i++];
    if (i == c.size()) return std::nullopt;
    n = &load(tx, n->children[i]);
  }
  if (index >= n->keys.size()) return std::nullopt;
  return entry(*n, static_cast<std::size_t>(index));
}

void OrderedOps::visit(Transaction& tx, Ref<OrderedNode> root, bool reverse, const Visitor& fn) {
  visit_node(tx, load(tx, root), reverse, fn);
}

void OrderedOps::destroy(Transaction& tx, Ref<OrderedNode> root) {
  destroy_node(tx, root);
}

}  // namespace starhold::detail
