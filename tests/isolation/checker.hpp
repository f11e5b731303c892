// The isolation checker: finds every anomaly a history shows.
//
// It resolves each read to the transaction that wrote what it saw, infers
// each key's version order, builds the dependency graph of the committed
// transactions (ww: wrote the next version; wr: read what the other wrote;
// rw: read a version the other overwrote) and reports, with the transactions
// involved:
//   - per read: aborted reads (G1a), intermediate reads (G1b), reads of values
//     nobody wrote, reads inconsistent with the task's own earlier reads and
//     writes, torn reads (a task that saw part of another task's writes);
//   - per key: lost updates (two committed tasks read one version and both
//     wrote the key), list versions that are not prefixes of one another;
//   - per strongly connected component of the graph: a short cycle of each
//     kind it holds: G0 (ww only), G1c (ww and wr), G-single (one rw), G2
//     when it holds none of those, and write skew (two tasks, each of which
//     overwrote what the other read) wherever it is;
//   - name anomalies: a slot whose names are both unbound or both bound, or
//     a name seen bound to an object the same task saw absent.
// Aborted and dropped attempts are checked too, for what game code saw while
// they ran (dirty, torn, inconsistent reads): Starhold promises game code a
// consistent snapshot in every attempt. And two failures that break the
// promise are reported: a task failed by an exception after it saw an
// inconsistent snapshot, and a read-only task failed for conflicts.
//
// Version order. Lists give it from their prefixes. Registers give it where a
// task read a key and then wrote it (every write in Starhold loads the object
// first, so this covers every write but the first version of an object).
// Versions whose predecessor no read reveals have unknown order: they get no
// ww or rw edges, and Report::notes counts them.
//
// Absence. Values are unique, absence is not: an object may be removed by an
// attempt that aborted, by a commit the store dropped, and by the one commit
// that stayed. Op::at settles most cases (a read cannot see a removal by a
// transaction whose body was still running after the read); a committed
// reader is given the committed removal when it fits; an attempt that did not
// commit and that both a committed and a dropped removal could explain is
// left out of the checks.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "isolation/history.hpp"

namespace isolation {

enum class Anomaly : std::uint8_t {
  lost_update,
  aborted_read,                    // G1a
  intermediate_read,               // G1b
  circular_flow,                   // G1c
  write_cycle,                     // G0
  torn_read,                       // read skew: part of another task's writes
  g_single,                        // a cycle with exactly one rw edge
  g2,                              // a cycle with two or more rw edges
  write_skew,                      // G2 between two tasks, each overwriting what the other read
  phantom,                         // name anomalies
  internal,                        // a read that disagrees with the task's own reads and writes
  garbage_read,                    // a value nobody wrote
  incompatible_order,              // list versions that are not prefixes of one another
  failed_after_inconsistent_read,  // TaskFailed[exception] after an inconsistent snapshot
  read_only_conflict_failure,      // a read-only task failed with TaskFailed[conflict]
};
inline constexpr std::size_t kAnomalyKinds = 15;
const char* anomaly_name(Anomaly a) noexcept;

// Where an anomaly showed: in committed tasks, or only in what game code saw
// during attempts that did not commit.
enum class Scope : std::uint8_t { committed, attempt };

struct Finding {
  Anomaly anomaly;
  Scope scope = Scope::committed;
  std::vector<std::size_t> txns;  // indices into the history
  std::string explanation;
};

struct Report {
  std::vector<Finding> findings;
  std::vector<std::string> notes;  // what the checker could not infer
  std::size_t committed = 0, aborted = 0, dropped = 0;
  std::size_t edges = 0;  // dependency edges between committed transactions

  std::size_t count(Anomaly a) const noexcept;
  std::size_t count(Anomaly a, Scope s) const noexcept;
  bool clean() const noexcept { return findings.empty(); }
  // Counts per anomaly and scope, then up to examples findings of each.
  std::string summary(std::size_t examples = 3) const;
};

// Checks history. Throws std::invalid_argument if the history breaks the
// model (a value written twice, a key used both as a list and a register).
Report check(const History& history);

}  // namespace isolation
