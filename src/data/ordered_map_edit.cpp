// Changes to the B+-tree behind OrderedMap (layout in ordered_tree.hpp).
//
// put and erase first load the root for update, which takes its intent:
// writers of one map run one after another (they would conflict anyway, on
// the counts). They descend recording the path, change the leaf and the
// counts along the path, then repair bottom-up: a node over capacity splits
// in two; an empty node is freed; a node under a quarter full merges with a
// neighbour if both fit in three quarters of one. The root keeps its id: it
// grows a level by moving its content into a new child, and shrinks one by
// taking in its only child.
#include <iterator>

#include "data/ordered_tree.hpp"

namespace starhold::detail {
namespace {
using namespace ordered;

// The nodes from the root to a key's leaf; slots[k] is nodes[k+1]'s index in nodes[k].
struct Path {
  std::vector<Node*> nodes;
  std::vector<std::size_t> slots;
  Node& leaf() const { return *nodes.back(); }
};

Path descend(Transaction& tx, Node& root, std::string_view key) {
  Path p;
  p.nodes.push_back(&root);
  while (!is_leaf(*p.nodes.back())) {
    const Node& n = *p.nodes.back();
    p.slots.push_back(child_for(n, key));
    p.nodes.push_back(&load(tx, n.children[p.slots.back()]));
  }
  return p;
}

void count_along(Transaction& tx, const Path& p, bool added) {
  for (std::size_t k = 0; k < p.slots.size(); ++k) {
    std::uint64_t& c = counts_for_update(tx, *p.nodes[k])[p.slots[k]];
    c = added ? c + 1 : c - 1;
  }
}

template <class T>
void move_tail(std::vector<T>& from, std::size_t at, std::vector<T>& to) {
  to.insert(to.end(), std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(at)),
            std::make_move_iterator(from.end()));
  from.resize(at);
}

// Splits parent's child i (left) in two halves.
void split_child(Transaction& tx, Node& parent, std::size_t i, Node& left) {
  Node& right = tx.create<Node>();
  right.height = left.height;
  const std::size_t mid = width(left) / 2;
  std::string separator;
  if (is_leaf(left)) {
    move_tail(left.keys, mid, right.keys);
    move_tail(left.values, mid, right.values);
    separator = right.keys.front();
  } else {
    auto& counts = tx.create<OrderedCounts>();
    move_tail(counts_for_update(tx, left), mid, counts.counts);
    right.counts = counts;
    separator = std::move(left.keys[mid - 1]);
    move_tail(left.keys, mid, right.keys);
    left.keys.pop_back();
    move_tail(left.children, mid, right.children);
  }
  const auto at = static_cast<std::ptrdiff_t>(i);
  auto& pc = counts_for_update(tx, parent);
  parent.children.insert(parent.children.begin() + at + 1, right);
  parent.keys.insert(parent.keys.begin() + at, std::move(separator));
  pc.insert(pc.begin() + at + 1, total(tx, right));
  pc[i] = total(tx, left);
}

// Makes the root one level taller: its content moves into a new only child,
// which is then split.
void grow_root(Transaction& tx, Node& root) {
  Node& child = tx.create<Node>();
  child.height = root.height;
  child.keys = std::move(root.keys);
  child.values = std::move(root.values);
  child.children = std::move(root.children);
  child.counts = root.counts;
  auto& counts = tx.create<OrderedCounts>();
  counts.counts.push_back(total(tx, child));
  root.keys.clear();
  root.values.clear();
  root.children.assign(1, child);
  root.counts = counts;
  root.height = child.height + 1;
  split_child(tx, root, 0, child);
}

void drop_child(Transaction& tx, Node& parent, std::size_t i, const Node& child) {
  if (child.counts) tx.remove(child.counts);
  tx.remove(child);
  const auto at = static_cast<std::ptrdiff_t>(i);
  auto& pc = counts_for_update(tx, parent);
  parent.children.erase(parent.children.begin() + at);
  if (!parent.keys.empty()) parent.keys.erase(parent.keys.begin() + (i > 0 ? at - 1 : 0));
  pc.erase(pc.begin() + at);
}

// Moves parent's child l+1 (right) into child l (left) and frees it.
void merge_children(Transaction& tx, Node& parent, std::size_t l, Node& left, Node& right) {
  if (is_leaf(left)) {
    move_tail(right.keys, 0, left.keys);
    move_tail(right.values, 0, left.values);
  } else {
    auto& lc = counts_for_update(tx, left);
    const auto& rc = counts_of(tx, right);
    lc.insert(lc.end(), rc.begin(), rc.end());
    tx.remove(right.counts);
    left.keys.push_back(parent.keys[l]);
    move_tail(right.keys, 0, left.keys);
    move_tail(right.children, 0, left.children);
  }
  tx.remove(right);
  const auto at = static_cast<std::ptrdiff_t>(l);
  auto& pc = counts_for_update(tx, parent);
  parent.children.erase(parent.children.begin() + at + 1);
  parent.keys.erase(parent.keys.begin() + at);
  pc[l] += pc[l + 1];
  pc.erase(pc.begin() + at + 1);
}

// Frees parent's child i if it is empty, or merges it with a neighbour if it
// is under a quarter full and both fit in three quarters of one node.
void repair_child(Transaction& tx, Node& parent, std::size_t i, Node& child) {
  if (width(child) == 0) return drop_child(tx, parent, i, child);
  if (width(child) * 4 >= capacity(child) || parent.children.size() < 2) return;
  const std::size_t j = i + 1 < parent.children.size() ? i + 1 : i - 1;
  Node& sibling = load(tx, parent.children[j]);
  if ((width(child) + width(sibling)) * 4 > capacity(child) * 3) return;
  if (i < j) return merge_children(tx, parent, i, child, sibling);
  merge_children(tx, parent, j, sibling, child);
}

// Takes in the root's only child (or turns a root without children into an
// empty leaf), as long as there is one.
void shrink_root(Transaction& tx, Node& root) {
  while (!is_leaf(root) && root.children.size() <= 1) {
    const Ref<OrderedCounts> old_counts = root.counts;
    if (root.children.empty()) {
      root.height = 0;
      root.keys.clear();
      root.counts = Ref<OrderedCounts>();
    } else {
      Node& only = load(tx, root.children.front());
      root.height = only.height;
      root.keys = std::move(only.keys);
      root.values = std::move(only.values);
      root.children = std::move(only.children);
      root.counts = only.counts;
      tx.remove(only);
    }
    tx.remove(old_counts);
  }
}

}  // namespace

bool OrderedOps::put(Transaction& tx, Ref<OrderedNode> root_ref, std::string key,
                     std::string value) {
  Node& root = tx.get_for_update(root_ref);
  const Path p = descend(tx, load(tx, root_ref), key);
  Node& leaf = p.leaf();
  const std::size_t at = position(leaf, key);
  if (at < leaf.keys.size() && leaf.keys[at] == key) {
    if (leaf.values[at] == value) return false;
    tx.mark_for_update(leaf);
    leaf.values[at] = std::move(value);
    return false;
  }
  tx.mark_for_update(leaf);
  leaf.keys.insert(leaf.keys.begin() + static_cast<std::ptrdiff_t>(at), std::move(key));
  leaf.values.insert(leaf.values.begin() + static_cast<std::ptrdiff_t>(at), std::move(value));
  count_along(tx, p, true);
  for (std::size_t k = p.nodes.size() - 1; k > 0; --k) {
    if (width(*p.nodes[k]) > capacity(*p.nodes[k]))
      split_child(tx, *p.nodes[k - 1], p.slots[k - 1], *p.nodes[k]);
  }
  if (width(root) > capacity(root)) grow_root(tx, root);
  return true;
}

bool OrderedOps::erase(Transaction& tx, Ref<OrderedNode> root_ref, std::string_view key) {
  Node& root = tx.get_for_update(root_ref);
  const Path p = descend(tx, load(tx, root_ref), key);
  Node& leaf = p.leaf();
  const std::size_t at = position(leaf, key);
  if (at == leaf.keys.size() || leaf.keys[at] != key) return false;
  tx.mark_for_update(leaf);
  leaf.keys.erase(leaf.keys.begin() + static_cast<std::ptrdiff_t>(at));
  leaf.values.erase(leaf.values.begin() + static_cast<std::ptrdiff_t>(at));
  count_along(tx, p, false);
  for (std::size_t k = p.nodes.size() - 1; k > 0; --k)
    repair_child(tx, *p.nodes[k - 1], p.slots[k - 1], *p.nodes[k]);
  shrink_root(tx, root);
  return true;
}

}  // namespace starhold::detail
