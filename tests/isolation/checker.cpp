#include "isolation/checker.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "isolation/analysis.hpp"
#include "isolation/dep_graph.hpp"

namespace isolation {
namespace {

using detail::Analysis;
using detail::ExternalRead;
using detail::kNone;
using detail::Source;

bool through_names(Path p) {
  return p == Path::name || p == Path::scan;
}

// The anomaly passes over one analysed history, each adding findings.
class Passes {
 public:
  Passes(const Analysis& a, Report& r) : a_(a), report_(r) {}

  void reads();
  void internal();
  void torn();
  void lost_updates();
  void orders();
  void cycles();
  void failures();
  void notes();

 private:
  Scope scope_of(std::uint32_t t) const {
    return a_.committed(t) ? Scope::committed : Scope::attempt;
  }
  void add(Anomaly an, std::uint32_t t, std::vector<std::size_t> txns, std::string why) {
    report_.findings.push_back(Finding{an, scope_of(t), std::move(txns), std::move(why)});
  }
  const Op& op_of(std::uint32_t t, const ExternalRead& r) const { return a_.history[t].ops[r.op]; }
  std::string key_name(std::uint32_t k) const { return describe(a_.keys[k].key); }
  std::string saw(std::uint32_t t, const ExternalRead& r) const {
    return a_.txn_name(t) + " read " + key_name(r.key) + " = " + describe(op_of(t, r).value);
  }
  // A read of view of a key that fresh's writer also wrote, at an older version.
  const ExternalRead* older_than_writer(const detail::TxnView& view,
                                        const ExternalRead& fresh) const;
  std::string cycle_text(const Cycle& c) const;
  void add_cycle(Anomaly an, const Cycle& c, const std::vector<std::uint32_t>& component);

  const Analysis& a_;
  Report& report_;
};

void Passes::reads() {
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    const bool committed = a_.committed(t);
    for (const ExternalRead& r : a_.txns[t].reads) {
      const Op& op = op_of(t, r);
      const Source& s = r.source;
      // Committed transactions may read only committed writes; running
      // attempts may also see installed commits that the store later dropped.
      auto forbidden = [&](std::uint32_t writer) {
        return writer != kNone && !a_.committed(writer) &&
               (committed || a_.history[writer].fate == Fate::aborted);
      };
      if (s.kind == Source::Kind::garbage) {
        if (op.value.kind == Value::Kind::absent && a_.keys[r.key].key.space == Key::Space::slot &&
            through_names(op.path)) {
          add(Anomaly::phantom, t, {t}, saw(t, r) + ": none of its names is bound");
        } else {
          add(Anomaly::garbage_read, t, {t}, saw(t, r) + ", a value no transaction wrote");
        }
      } else if (forbidden(s.writer) || forbidden(r.dirty_element)) {
        const std::uint32_t w = forbidden(s.writer) ? s.writer : r.dirty_element;
        add(Anomaly::aborted_read, t, {t, w}, saw(t, r) + ", written by " + a_.txn_name(w));
      } else if (s.kind == Source::Kind::intermediate) {
        add(Anomaly::intermediate_read, t, {t, s.writer},
            saw(t, r) + ", an intermediate value of " + a_.txn_name(s.writer));
      }
    }
  }
}

void Passes::internal() {
  struct Known {
    Key key;
    bool whole = true;  // false: a list whose start this transaction never saw
    Value value;
    std::vector<std::int64_t> suffix;
    Path path;
  };
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    const auto& ops = a_.history[t].ops;
    std::vector<Known> known;
    for (const Op& op : ops) {
      auto it =
          std::find_if(known.begin(), known.end(), [&](const Known& k) { return k.key == op.key; });
      if (it == known.end()) {
        known.push_back(Known{op.key, true, Value::none(), {}, op.path});
        it = known.end() - 1;
        if (op.type == Op::Type::read) {
          it->value = op.value;
          continue;
        }
      }
      switch (op.type) {
        case Op::Type::read: {
          const bool ok = it->whole ? op.value == it->value
                                    : op.value.kind == Value::Kind::list &&
                                          op.value.list.size() >= it->suffix.size() &&
                                          std::equal(it->suffix.rbegin(), it->suffix.rend(),
                                                     op.value.list.rbegin());
          if (!ok) {
            const std::string expected =
                it->whole ? describe(it->value) : "a list ending in its own appends";
            const bool names = through_names(op.path) || through_names(it->path);
            add(names ? Anomaly::phantom : Anomaly::internal, t, {t},
                a_.txn_name(t) + " read " + describe(op.key) + " = " + describe(op.value) +
                    " after it had seen or made " + expected);
          }
          *it = Known{it->key, true, op.value, {}, op.path};
          break;
        }
        case Op::Type::write:
          *it = Known{it->key, true, op.value, {}, op.path};
          break;
        case Op::Type::append:
          if (it->whole && it->value.kind == Value::Kind::list) {
            it->value.list.push_back(op.value.reg);
          } else if (!it->whole) {
            it->suffix.push_back(op.value.reg);
          } else {
            *it = Known{it->key, false, Value::none(), {op.value.reg}, op.path};
          }
          break;
      }
    }
  }
}

void Passes::torn() {
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    const auto& view = a_.txns[t];
    std::vector<std::uint32_t> reported;
    for (const ExternalRead& fresh : view.reads) {
      const std::uint32_t w = fresh.source.writer;
      if (w == kNone || std::find(reported.begin(), reported.end(), w) != reported.end()) continue;
      const ExternalRead* stale = nullptr;
      if (fresh.source.kind == Source::Kind::version) {
        stale = older_than_writer(view, fresh);
      } else if (!a_.committed(t) && fresh.source.kind == Source::Kind::uncommitted &&
                 a_.history[w].fate == Fate::dropped) {
        // A dropped commit was installed whole, after every committed version
        // (later commits failed with it): an attempt that saw part of it and a
        // committed version (or the absence) of another key it wrote saw half
        // of a commit. Other dropped versions are not ordered here.
        for (std::uint32_t k2 : a_.txns[w].written) {
          const ExternalRead* r = view.read_of(k2);
          if (k2 != fresh.key && r != nullptr &&
              (r->source.kind == Source::Kind::version ||
               r->source.kind == Source::Kind::initial)) {
            stale = r;
          }
        }
      }
      if (stale == nullptr) continue;
      const Op& fresh_op = op_of(t, fresh);
      const bool removed_by_name =
          fresh_op.value.kind == Value::Kind::absent && fresh_op.path == Path::name;
      add(removed_by_name ? Anomaly::phantom : Anomaly::torn_read, t, {t, w},
          saw(t, fresh) + " (written by " + a_.txn_name(w) + ") but " + key_name(stale->key) +
              " = " + describe(op_of(t, *stale).value) +
              ", older than what that transaction wrote" +
              (removed_by_name ? ": a name still bound to an object its remover unbound" : ""));
      reported.push_back(w);
    }
  }
}

const ExternalRead* Passes::older_than_writer(const detail::TxnView& view,
                                              const ExternalRead& fresh) const {
  const std::uint32_t w = fresh.source.writer;
  for (std::uint32_t k2 : a_.txns[w].written) {
    const auto mine = a_.keys[k2].by_writer.find(w);
    const ExternalRead* stale = view.read_of(k2);
    if (k2 != fresh.key && mine != a_.keys[k2].by_writer.end() && stale != nullptr &&
        stale->source.kind == Source::Kind::version &&
        a_.precedes(k2, stale->source.version, mine->second)) {
      return stale;
    }
  }
  return nullptr;
}

void Passes::lost_updates() {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>> writers_of;
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    if (!a_.committed(t)) continue;
    for (const ExternalRead& r : a_.txns[t].reads) {
      if (r.source.kind == Source::Kind::version && a_.keys[r.key].by_writer.count(t)) {
        writers_of[{r.key, r.source.version}].push_back(t);
      }
    }
  }
  for (const auto& [kv, txns] : writers_of) {
    if (txns.size() < 2) continue;
    const auto& [k, v] = kv;
    std::string names;
    for (std::size_t t : txns)
      names.append(" ").append(a_.txn_name(static_cast<std::uint32_t>(t)));
    report_.findings.push_back(
        Finding{Anomaly::lost_update, Scope::committed, txns,
                "committed transactions read the version of " + key_name(k) + " written by " +
                    a_.txn_name(a_.keys[k].versions[v].writer) + " and all wrote it:" + names});
  }
}

void Passes::orders() {
  for (const auto& d : a_.divergences) {
    report_.findings.push_back(Finding{Anomaly::incompatible_order,
                                       Scope::committed,
                                       {d.a, d.b},
                                       a_.txn_name(d.a) + " and " + a_.txn_name(d.b) +
                                           " read versions of " + key_name(d.key) +
                                           " that are not prefixes of one another"});
  }
  for (const auto& d : a_.order_conflicts) {
    report_.findings.push_back(
        Finding{Anomaly::incompatible_order,
                Scope::committed,
                {d.a, d.b},
                "the version of " + key_name(d.key) + " written by " + a_.txn_name(d.a) +
                    " follows two different versions (one written by " + a_.txn_name(d.b) + ")"});
  }
}

std::string Passes::cycle_text(const Cycle& c) const {
  static constexpr const char* kDep[] = {"", "ww", "wr", "", "rw"};
  std::string s;
  for (const Step& step : c) {
    s +=
        a_.txn_name(step.from) + " -" + kDep[step.edge.dep] + " " + key_name(step.edge.key) + "-> ";
  }
  return s + a_.txn_name(c.front().from);
}

void Passes::add_cycle(Anomaly an, const Cycle& local, const std::vector<std::uint32_t>& comp) {
  if (local.empty()) return;
  Cycle c = local;
  std::vector<std::size_t> txns;
  for (Step& s : c) {
    s.from = comp[s.from];
    s.edge.to = comp[s.edge.to];
    txns.push_back(s.from);
  }
  report_.findings.push_back(Finding{an, Scope::committed, std::move(txns), cycle_text(c)});
}

void Passes::cycles() {
  DepGraph g(a_.history.size());
  for (std::uint32_t k = 0; k < a_.keys.size(); ++k) {
    const auto& versions = a_.keys[k].versions;
    for (const auto& v : versions) {
      if (v.parent != kNone) g.add(versions[v.parent].writer, v.writer, ww, k);
    }
  }
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    if (!a_.committed(t)) continue;
    for (const ExternalRead& r : a_.txns[t].reads) {
      const auto& versions = a_.keys[r.key].versions;
      if (r.source.kind == Source::Kind::initial) {
        // It read the key before its first version: it precedes every writer.
        for (const auto& v : versions)
          g.add(t, v.writer, rw, r.key);
        continue;
      }
      if (r.source.kind != Source::Kind::version) continue;
      const auto& read = versions[r.source.version];
      g.add(read.writer, t, wr, r.key);
      for (std::uint32_t c : read.children)
        g.add(t, versions[c].writer, rw, r.key);
    }
  }
  report_.edges = g.edges();
  for (const auto& comp : g.components(ww | wr | rw)) {
    const ComponentCycles found = find_cycles(g.induced(comp));
    add_cycle(Anomaly::write_cycle, found.g0, comp);
    add_cycle(Anomaly::circular_flow, found.g1c, comp);
    add_cycle(Anomaly::g_single, found.g_single, comp);
    add_cycle(Anomaly::g2, found.g2, comp);
    add_cycle(Anomaly::write_skew, found.write_skew, comp);
  }
}

void Passes::failures() {
  std::set<std::size_t> inconsistent;
  for (const Finding& f : report_.findings) {
    if (f.scope == Scope::attempt) inconsistent.insert(f.txns.front());
  }
  for (std::uint32_t t = 0; t < a_.history.size(); ++t) {
    const Txn& txn = a_.history[t];
    if (txn.failure == Failure::conflict && !txn.plans_writes && a_.txns[t].written.empty()) {
      add(Anomaly::read_only_conflict_failure, t, {t},
          a_.txn_name(t) + " wrote nothing and failed for conflicts");
    }
    if (txn.failure != Failure::exception) continue;
    bool saw_dropped = false;
    for (const ExternalRead& r : a_.txns[t].reads) {
      for (std::uint32_t w : {r.source.writer, r.dirty_element})
        saw_dropped |= w != kNone && a_.history[w].fate == Fate::dropped;
    }
    if (saw_dropped || inconsistent.count(t)) {
      add(Anomaly::failed_after_inconsistent_read, t, {t},
          a_.txn_name(t) + " failed with a game exception after reading " +
              (saw_dropped ? "a commit the store dropped" : "an inconsistent snapshot"));
    }
  }
}

void Passes::notes() {
  std::size_t unordered = 0, keys = 0;
  for (const auto& ks : a_.keys) {
    std::size_t roots = 0;
    for (const auto& v : ks.versions)
      roots += v.parent == kNone ? 1 : 0;
    if (roots > 1) {
      unordered += roots - 1;
      ++keys;
    }
  }
  if (unordered > 0) {
    report_.notes.push_back(std::to_string(unordered) + " versions of " + std::to_string(keys) +
                            " keys have no known predecessor (no committed read revealed it): "
                            "no ww or rw edge orders them");
  }
}

}  // namespace

Report check(const History& history) {
  const Analysis analysis(history);
  Report report;
  for (const Txn& t : history) {
    report.committed += t.fate == Fate::committed ? 1 : 0;
    report.aborted += t.fate == Fate::aborted ? 1 : 0;
    report.dropped += t.fate == Fate::dropped ? 1 : 0;
  }
  Passes passes(analysis, report);
  passes.reads();
  passes.internal();
  passes.torn();
  passes.lost_updates();
  passes.orders();
  passes.cycles();
  passes.failures();
  passes.notes();
  return report;
}

}  // namespace isolation
