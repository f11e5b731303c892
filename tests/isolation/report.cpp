#include <algorithm>

#include "isolation/checker.hpp"

namespace isolation {

const char* anomaly_name(Anomaly a) noexcept {
  switch (a) {
    case Anomaly::lost_update:
      return "lost update";
    case Anomaly::aborted_read:
      return "aborted read (G1a)";
    case Anomaly::intermediate_read:
      return "intermediate read (G1b)";
    case Anomaly::circular_flow:
      return "circular information flow (G1c)";
    case Anomaly::write_cycle:
      return "write cycle (G0)";
    case Anomaly::torn_read:
      return "torn read (read skew)";
    case Anomaly::g_single:
      return "G-single";
    case Anomaly::g2:
      return "G2";
    case Anomaly::write_skew:
      return "write skew (G2)";
    case Anomaly::phantom:
      return "phantom / absent name";
    case Anomaly::internal:
      return "internal inconsistency";
    case Anomaly::garbage_read:
      return "read of a value nobody wrote";
    case Anomaly::incompatible_order:
      return "incompatible version order";
    case Anomaly::failed_after_inconsistent_read:
      return "TaskFailed[exception] after an inconsistent read";
    case Anomaly::read_only_conflict_failure:
      return "read-only task failed for conflicts";
  }
  return "?";
}

std::size_t Report::count(Anomaly a) const noexcept {
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(),
                                                [&](const Finding& f) { return f.anomaly == a; }));
}

std::size_t Report::count(Anomaly a, Scope s) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [&](const Finding& f) { return f.anomaly == a && f.scope == s; }));
}

std::string Report::summary(std::size_t examples) const {
  std::string s = std::to_string(committed) + " committed, " + std::to_string(aborted) +
                  " aborted and " + std::to_string(dropped) + " dropped attempts; " +
                  std::to_string(edges) + " dependency edges\n";
  for (std::size_t i = 0; i < kAnomalyKinds; ++i) {
    const auto a = static_cast<Anomaly>(i);
    if (count(a) == 0) continue;
    s += std::string("  ") + anomaly_name(a) + ": " + std::to_string(count(a, Scope::committed)) +
         " in committed tasks, " + std::to_string(count(a, Scope::attempt)) +
         " in attempts that did not commit\n";
    std::size_t shown = 0;
    for (const Finding& f : findings) {
      if (f.anomaly != a || shown++ == examples) continue;
      s += "    - " + f.explanation + "\n";
    }
  }
  for (const std::string& n : notes)
    s += "  note: " + n + "\n";
  return s;
}

}  // namespace isolation
