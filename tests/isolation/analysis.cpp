#include "isolation/analysis.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace isolation::detail {
namespace {

const char* fate_name(Fate f) {
  switch (f) {
    case Fate::committed:
      return "committed";
    case Fate::aborted:
      return "aborted";
    case Fate::dropped:
      return "dropped by the store";
  }
  return "?";
}

}  // namespace

const ExternalRead* TxnView::read_of(std::uint32_t key) const {
  for (const ExternalRead& r : reads) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

Analysis::Analysis(const History& h) : history(h), txns(h.size()), body_end_(h.size(), 0) {
  for (std::size_t t = 0; t < h.size(); ++t) {
    body_end_[t] = h[t].began;
    for (const Op& op : h[t].ops)
      body_end_[t] = std::max(body_end_[t], op.at);
  }
  index_keys_and_writes();
  resolve_reads();
  order_by_rmw();
  order_by_lists();
  number_versions();
}

std::string Analysis::txn_name(std::uint32_t txn) const {
  const Txn& t = history[txn];
  std::string s = fmt::format("T{} (", txn);
  if (!t.label.empty()) s += t.label + ", ";
  return s + fate_name(t.fate) + ")";
}

std::uint32_t Analysis::key_index(const Key& k) {
  auto [it, inserted] = key_index_.try_emplace(k, static_cast<std::uint32_t>(keys.size()));
  if (inserted) keys.push_back(KeyState{k, false, {}, {}, {}, {}});
  return it->second;
}

void Analysis::index_keys_and_writes() {
  enum : std::uint8_t { unknown, reg, list };
  std::vector<std::uint8_t> kinds;
  auto set_kind = [&](std::uint32_t k, std::uint8_t kind) {
    if (kinds.size() <= k) kinds.resize(k + 1, unknown);
    if (kinds[k] != unknown && kinds[k] != kind) {
      throw std::invalid_argument(describe(keys[k].key) + " is used both as a list and a register");
    }
    kinds[k] = kind;
    keys[k].is_list = kind == list;
  };

  for (std::uint32_t t = 0; t < history.size(); ++t) {
    const Txn& txn = history[t];
    std::vector<std::pair<std::uint32_t, std::size_t>> last;  // key -> its last write op
    for (std::size_t i = 0; i < txn.ops.size(); ++i) {
      const Op& op = txn.ops[i];
      const std::uint32_t k = key_index(op.key);
      if (op.type == Op::Type::append || op.value.kind == Value::Kind::list) set_kind(k, list);
      if (op.type != Op::Type::append && op.value.kind == Value::Kind::reg) set_kind(k, reg);
      if (op.type == Op::Type::read) continue;
      auto it = std::find_if(last.begin(), last.end(), [&](const auto& p) { return p.first == k; });
      if (it == last.end()) {
        last.emplace_back(k, i);
      } else {
        it->second = i;
      }
    }
    for (std::size_t i = 0; i < txn.ops.size(); ++i) {
      const Op& op = txn.ops[i];
      if (op.type == Op::Type::read) continue;
      const std::uint32_t k = key_index_.at(op.key);
      const bool final = std::find(last.begin(), last.end(),
                                   std::pair<std::uint32_t, std::size_t>{k, i}) != last.end();
      if (op.value.kind == Value::Kind::absent) {
        auto& rm = keys[k].removers;
        if (std::find(rm.begin(), rm.end(), t) == rm.end()) rm.push_back(t);
        continue;
      }
      if (op.value.kind == Value::Kind::list) {
        throw std::invalid_argument("T" + std::to_string(t) + " writes a whole list to " +
                                    describe(op.key) + "; lists only take appends");
      }
      auto [it, inserted] = writes_.try_emplace({k, op.value.reg}, WriteRef{t, final});
      if (!inserted) {
        throw std::invalid_argument("value " + std::to_string(op.value.reg) + " of " +
                                    describe(op.key) + " is written by both T" +
                                    std::to_string(it->second.txn) + " and T" + std::to_string(t) +
                                    "; every written value must be unique");
      }
    }
    for (const auto& [k, op] : last) {
      txns[t].written.push_back(k);
      if (txn.fate != Fate::committed) continue;
      keys[k].by_writer.emplace(t, static_cast<std::uint32_t>(keys[k].versions.size()));
      keys[k].versions.push_back(Version{t, kNone, {}, -1, -1});
    }
  }
}

void Analysis::resolve_reads() {
  for (std::uint32_t t = 0; t < history.size(); ++t) {
    const Txn& txn = history[t];
    std::vector<std::uint32_t> touched;
    for (std::size_t i = 0; i < txn.ops.size(); ++i) {
      const Op& op = txn.ops[i];
      const std::uint32_t k = key_index_.at(op.key);
      const bool seen = std::find(touched.begin(), touched.end(), k) != touched.end();
      if (!seen) touched.push_back(k);
      if (op.type != Op::Type::read || seen) continue;
      ExternalRead r{k, i, {}, kNone};
      r.source = resolve(t, k, op, r);
      if (r.source.writer == t) r.source = Source{};  // its own later write: nobody's value
      txns[t].reads.push_back(r);
    }
  }
}

bool Analysis::may_precede(std::uint32_t writer, std::uint32_t reader,
                           const Op& read) const noexcept {
  const std::int64_t installed_after = body_end_[writer];
  const std::int64_t seen_by = read.at != 0 ? read.at : history[reader].ended;
  return installed_after == 0 || seen_by == 0 || installed_after < seen_by;
}

Source Analysis::resolve(std::uint32_t reader, std::uint32_t key, const Op& read,
                         ExternalRead& out) const {
  const Value& v = read.value;
  const KeyState& ks = keys[key];
  auto from_write = [&](const WriteRef& w) {
    Source s;
    s.writer = w.txn;
    if (!committed(w.txn)) {
      s.kind = Source::Kind::uncommitted;
    } else if (!w.final) {
      s.kind = Source::Kind::intermediate;
    } else {
      s.kind = Source::Kind::version;
      s.version = ks.by_writer.at(w.txn);
    }
    return s;
  };
  switch (v.kind) {
    case Value::Kind::absent: {
      // Several transactions may have removed the object (one committed at
      // most). The read saw one whose body ended before the read: the
      // committed one, or one whose commit was installed and then dropped
      // (which only an attempt that did not commit may see: when both fit,
      // what such an attempt saw is unknown). Else the object never existed
      // (its creation did not commit) or an attempt's private removal leaked.
      std::uint32_t committed_remover = kNone, dropped = kNone, aborted = kNone;
      int droppers = 0;
      for (std::uint32_t t : ks.removers) {
        if (t == reader || !may_precede(t, reader, read)) continue;
        if (committed(t) && ks.by_writer.count(t)) {
          committed_remover = t;
        } else if (history[t].fate == Fate::dropped) {
          dropped = t;
          ++droppers;
        } else {
          aborted = t;
        }
      }
      // A snapshot taken before the object's first commit also sees it absent:
      // possible when no commit of it is known to have been reported before
      // the attempt's snapshot (with unknown times, it is not assumed).
      const Txn& r = history[reader];
      const std::int64_t snapshot = r.snapshot_after != 0 ? r.snapshot_after : r.began;
      bool before_creation = snapshot != 0 && !ks.versions.empty();
      for (const Version& ver : ks.versions) {
        const std::int64_t ended = history[ver.writer].ended;
        if (ended == 0 || ended <= snapshot) before_creation = false;
      }
      if (committed_remover != kNone && (before_creation || dropped != kNone) &&
          (before_creation || !committed(reader))) {
        return Source{Source::Kind::ambiguous, kNone, kNone};
      }
      if (committed_remover != kNone) {
        return Source{Source::Kind::version, committed_remover, ks.by_writer.at(committed_remover)};
      }
      // A snapshot older than the object explains the absence as well as a
      // dropped removal does, for an attempt that did not commit: what it saw
      // is unknown. A committed task cannot have seen the dropped one.
      if (before_creation && dropped != kNone) {
        if (committed(reader)) return Source{Source::Kind::initial, kNone, kNone};
        return Source{Source::Kind::ambiguous, kNone, kNone};
      }
      // Several removals installed and dropped in turn: which one it saw is
      // unknown (to a committed task, any is an aborted read).
      if (droppers > 1 && !committed(reader)) return Source{Source::Kind::ambiguous, kNone, kNone};
      if (dropped != kNone) return Source{Source::Kind::uncommitted, dropped, kNone};
      if (ks.versions.empty() || before_creation)
        return Source{Source::Kind::initial, kNone, kNone};
      if (aborted != kNone) return Source{Source::Kind::uncommitted, aborted, kNone};
      return Source{};
    }
    case Value::Kind::reg: {
      auto it = writes_.find({key, v.reg});
      return it == writes_.end() ? Source{} : from_write(it->second);
    }
    case Value::Kind::list: {
      if (v.list.empty()) return Source{};
      for (std::int64_t e : v.list) {
        auto it = writes_.find({key, e});
        if (it == writes_.end()) return Source{};
        if (!committed(it->second.txn) && out.dirty_element == kNone) {
          out.dirty_element = it->second.txn;
        }
      }
      return from_write(writes_.at({key, v.list.back()}));
    }
  }
  return Source{};
}

void Analysis::set_parent(std::uint32_t key, std::uint32_t version, std::uint32_t parent) {
  if (version == parent) return;
  Version& v = keys[key].versions[version];
  if (v.parent == kNone) {
    v.parent = parent;
  } else if (v.parent != parent) {
    order_conflicts.push_back({key, v.writer, keys[key].versions[parent].writer});
  }
}

void Analysis::order_by_rmw() {
  for (std::uint32_t t = 0; t < history.size(); ++t) {
    if (!committed(t)) continue;
    for (const ExternalRead& r : txns[t].reads) {
      if (r.source.kind != Source::Kind::version) continue;
      auto mine = keys[r.key].by_writer.find(t);
      if (mine != keys[r.key].by_writer.end()) set_parent(r.key, mine->second, r.source.version);
    }
  }
}

void Analysis::order_by_lists() {
  std::vector<std::uint32_t> longest_reader(keys.size(), kNone);
  auto list_reads = [&](auto&& fn) {
    for (std::uint32_t t = 0; t < history.size(); ++t) {
      if (!committed(t)) continue;
      for (const ExternalRead& r : txns[t].reads) {
        const Value& v = history[t].ops[r.op].value;
        if (v.kind == Value::Kind::list) fn(t, r.key, v.list);
      }
    }
  };
  list_reads([&](std::uint32_t t, std::uint32_t k, const std::vector<std::int64_t>& l) {
    if (longest_reader[k] == kNone || l.size() > keys[k].longest.size()) {
      keys[k].longest = l;
      longest_reader[k] = t;
    }
  });
  list_reads([&](std::uint32_t t, std::uint32_t k, const std::vector<std::int64_t>& l) {
    const auto& longest = keys[k].longest;
    if (!std::equal(l.begin(), l.end(), longest.begin())) {
      divergences.push_back({k, t, longest_reader[k]});
    }
  });

  for (std::uint32_t k = 0; k < keys.size(); ++k) {
    const auto& longest = keys[k].longest;
    std::uint32_t previous = kNone;
    std::vector<std::uint32_t> seen;
    for (std::size_t i = 0; i < longest.size(); ++i) {
      const WriteRef& w = writes_.at({k, longest[i]});
      if (i + 1 < longest.size() && writes_.at({k, longest[i + 1]}).txn == w.txn) continue;
      // longest[i] ends a run of one writer's elements.
      if (!committed(w.txn) || !w.final) {
        previous = kNone;
        continue;
      }
      if (std::find(seen.begin(), seen.end(), w.txn) != seen.end()) {
        order_conflicts.push_back({k, w.txn, w.txn});
        continue;
      }
      seen.push_back(w.txn);
      const std::uint32_t v = keys[k].by_writer.at(w.txn);
      if (previous != kNone) set_parent(k, v, previous);
      previous = v;
    }
  }
}

void Analysis::number_versions() {
  std::int64_t clock = 0;
  for (KeyState& ks : keys) {
    for (std::uint32_t v = 0; v < ks.versions.size(); ++v) {
      const std::uint32_t p = ks.versions[v].parent;
      if (p != kNone) ks.versions[p].children.push_back(v);
    }
    std::vector<std::pair<std::uint32_t, std::size_t>> walk;  // version, next child
    for (std::uint32_t root = 0; root < ks.versions.size(); ++root) {
      if (ks.versions[root].parent != kNone) continue;
      ks.versions[root].enter = clock++;
      walk.emplace_back(root, 0);
      while (!walk.empty()) {
        auto& [v, next] = walk.back();
        if (next < ks.versions[v].children.size()) {
          const std::uint32_t c = ks.versions[v].children[next++];
          ks.versions[c].enter = clock++;
          walk.emplace_back(c, 0);
        } else {
          ks.versions[v].leave = clock++;
          walk.pop_back();
        }
      }
    }
  }
}

bool Analysis::precedes(std::uint32_t key, std::uint32_t a, std::uint32_t b) const noexcept {
  const Version& va = keys[key].versions[a];
  const Version& vb = keys[key].versions[b];
  if (va.enter < 0 || vb.enter < 0) return false;
  return va.enter < vb.enter && vb.leave < va.leave;
}

}  // namespace isolation::detail
