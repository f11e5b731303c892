#include "isolation/dep_graph.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace isolation {

void DepGraph::add(std::uint32_t from, std::uint32_t to, Dep dep, std::uint32_t key) {
  if (from == to) return;
  out_[from].push_back(Edge{to, dep, key});
  ++edges_;
}

std::vector<std::vector<std::uint32_t>> DepGraph::components(std::uint8_t mask) const {
  const auto n = static_cast<std::uint32_t>(out_.size());
  std::vector<std::int64_t> index(n, -1), low(n, 0);
  std::vector<char> on_stack(n, 0);
  std::vector<std::uint32_t> stack;
  struct Frame {
    std::uint32_t node;
    std::size_t next;
  };
  std::vector<Frame> calls;
  std::int64_t counter = 0;
  std::vector<std::vector<std::uint32_t>> result;

  auto visit = [&](std::uint32_t v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack[v] = 1;
    calls.push_back(Frame{v, 0});
  };
  for (std::uint32_t root = 0; root < n; ++root) {
    if (index[root] != -1) continue;
    visit(root);
    while (!calls.empty()) {
      const std::uint32_t v = calls.back().node;
      const std::vector<Edge>& edges = out_[v];
      if (calls.back().next < edges.size()) {
        const Edge& e = edges[calls.back().next++];
        if ((e.dep & mask) == 0) continue;
        if (index[e.to] == -1) {
          visit(e.to);
        } else if (on_stack[e.to]) {
          low[v] = std::min(low[v], index[e.to]);
        }
        continue;
      }
      calls.pop_back();
      if (!calls.empty()) {
        const std::uint32_t parent = calls.back().node;
        low[parent] = std::min(low[parent], low[v]);
      }
      if (low[v] != index[v]) continue;
      std::vector<std::uint32_t> component;
      std::uint32_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = 0;
        component.push_back(w);
      } while (w != v);
      if (component.size() > 1) result.push_back(std::move(component));
    }
  }
  return result;
}

DepGraph DepGraph::induced(const std::vector<std::uint32_t>& nodes) const {
  std::unordered_map<std::uint32_t, std::uint32_t> local;
  local.reserve(nodes.size());
  for (std::uint32_t i = 0; i < nodes.size(); ++i)
    local.emplace(nodes[i], i);
  DepGraph g(nodes.size());
  for (std::uint32_t i = 0; i < nodes.size(); ++i) {
    for (const Edge& e : out_[nodes[i]]) {
      auto it = local.find(e.to);
      if (it != local.end()) g.add(i, it->second, e.dep, e.key);
    }
  }
  return g;
}

Cycle DepGraph::shortest_path(std::uint32_t from, std::uint32_t to, std::uint8_t mask) const {
  if (from == to) return {};
  constexpr std::uint32_t kUnseen = UINT32_MAX;
  std::vector<std::uint32_t> parent(out_.size(), kUnseen);
  std::vector<const Edge*> via(out_.size(), nullptr);
  std::deque<std::uint32_t> queue{from};
  parent[from] = from;
  while (!queue.empty()) {
    const std::uint32_t v = queue.front();
    queue.pop_front();
    for (const Edge& e : out_[v]) {
      if ((e.dep & mask) == 0 || parent[e.to] != kUnseen) continue;
      parent[e.to] = v;
      via[e.to] = &e;
      if (e.to == to) {
        Cycle path;
        for (std::uint32_t at = to; at != from; at = parent[at])
          path.push_back(Step{parent[at], *via[at]});
        std::reverse(path.begin(), path.end());
        return path;
      }
      queue.push_back(e.to);
    }
  }
  return {};
}

namespace {

// The cycle made of edge (from -> e.to) and a path back from e.to to from.
Cycle close(std::uint32_t from, const Edge& e, const DepGraph& g, std::uint8_t mask) {
  Cycle back = g.shortest_path(e.to, from, mask);
  if (back.empty()) return {};
  back.insert(back.begin(), Step{from, e});
  return back;
}

// A cycle over edges in mask that uses at least one edge of kind `need`, or empty.
Cycle cycle_using(const DepGraph& g, std::uint8_t mask, Dep need) {
  for (const auto& component : g.components(mask)) {
    const DepGraph sub = g.induced(component);
    for (std::uint32_t v = 0; v < sub.nodes(); ++v) {
      for (const Edge& e : sub.out(v)) {
        if (e.dep != need) continue;
        Cycle c = close(v, e, sub, mask);
        for (Step& s : c) {  // back to g's numbering
          s.from = component[s.from];
          s.edge.to = component[s.edge.to];
        }
        if (!c.empty()) return c;
      }
    }
  }
  return {};
}

}  // namespace

ComponentCycles find_cycles(const DepGraph& g) {
  ComponentCycles found;
  found.g0 = cycle_using(g, ww, ww);
  found.g1c = cycle_using(g, ww | wr, wr);

  int tries = 0;
  for (std::uint32_t v = 0; v < g.nodes() && found.g_single.empty() && tries < kSingleTries; ++v) {
    for (const Edge& e : g.out(v)) {
      if (e.dep != rw) continue;
      found.g_single = close(v, e, g, ww | wr);
      if (!found.g_single.empty() || ++tries == kSingleTries) break;
    }
  }

  std::unordered_set<std::uint64_t> rw_edges;
  for (std::uint32_t v = 0; v < g.nodes() && found.write_skew.empty(); ++v) {
    for (const Edge& e : g.out(v)) {
      if (e.dep != rw) continue;
      rw_edges.insert((std::uint64_t{v} << 32) | e.to);
    }
  }
  for (std::uint32_t v = 0; v < g.nodes() && found.write_skew.empty(); ++v) {
    for (const Edge& e : g.out(v)) {
      if (e.dep != rw || !rw_edges.count((std::uint64_t{e.to} << 32) | v)) continue;
      for (const Edge& back : g.out(e.to)) {
        if (back.dep == rw && back.to == v && back.key != e.key) {
          found.write_skew = {Step{v, e}, Step{e.to, back}};
          break;
        }
      }
      if (!found.write_skew.empty()) break;
    }
  }

  if (found.g0.empty() && found.g1c.empty() && found.g_single.empty()) {
    for (std::uint32_t v = 0; v < g.nodes() && found.g2.empty(); ++v) {
      for (const Edge& e : g.out(v)) {
        if (e.dep != rw) continue;
        found.g2 = close(v, e, g, ww | wr | rw);
        if (!found.g2.empty()) break;
      }
    }
  }
  return found;
}

}  // namespace isolation
