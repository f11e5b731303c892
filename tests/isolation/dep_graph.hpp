// The dependency graph of committed transactions and the cycle searches the
// checker runs on it. Linear in nodes and edges: Tarjan's strongly connected
// components (iterative, so 100k-node chains do not exhaust the stack), then,
// inside each component only, breadth-first searches for a short cycle of
// each kind.
#pragma once

#include <cstdint>
#include <vector>

namespace isolation {

// The kind of an edge: a bit, so searches can take a set of kinds.
enum Dep : std::uint8_t { ww = 1, wr = 2, rw = 4 };

struct Edge {
  std::uint32_t to;
  Dep dep;
  std::uint32_t key;  // the key that made the edge (an index the caller keeps)
};

struct Step {
  std::uint32_t from;
  Edge edge;
};
using Cycle = std::vector<Step>;

class DepGraph {
 public:
  explicit DepGraph(std::size_t nodes) : out_(nodes) {}

  // Adds from -> to. Self-edges are ignored.
  void add(std::uint32_t from, std::uint32_t to, Dep dep, std::uint32_t key);

  std::size_t nodes() const noexcept { return out_.size(); }
  std::size_t edges() const noexcept { return edges_; }
  const std::vector<Edge>& out(std::uint32_t n) const { return out_[n]; }

  // The strongly connected components of more than one node, following only
  // edges whose kind is in mask.
  std::vector<std::vector<std::uint32_t>> components(std::uint8_t mask) const;

  // The subgraph induced by nodes: node i of the result is nodes[i].
  DepGraph induced(const std::vector<std::uint32_t>& nodes) const;

  // The shortest path from `from` to `to` over edges whose kind is in mask,
  // or an empty path if there is none (or from == to).
  Cycle shortest_path(std::uint32_t from, std::uint32_t to, std::uint8_t mask) const;

 private:
  std::vector<std::vector<Edge>> out_;
  std::size_t edges_ = 0;
};

// The cycles found in one strongly connected component.
struct ComponentCycles {
  Cycle g0;          // ww edges only
  Cycle g1c;         // ww and wr edges, at least one wr
  Cycle g_single;    // exactly one rw edge
  Cycle g2;          // two or more rw edges; found only when none of the above is
  Cycle write_skew;  // two transactions, each with an rw edge to the other on different keys
};

// Searches component (a graph that is one strongly connected component) for
// a short cycle of each kind. G-single is looked for from at most
// kSingleTries rw edges, so a very large component may report G2 where a
// G-single also exists.
inline constexpr int kSingleTries = 32;
ComponentCycles find_cycles(const DepGraph& component);

}  // namespace isolation
