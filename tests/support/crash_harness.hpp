// A store the crash tests load, kill and check again and again. Each load is
// a child process (test_helper bank-load) killed with SIGKILL; each check is
// another (test_helper bank-check) that restarts a server on the store and
// audits the bank against every line the killed processes reported.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace test {

struct LoadRun {
  int status = 0;             // 128 + SIGKILL when killed
  std::size_t committed = 0;  // transfers it reported committed
  std::size_t scheduled = 0;  // marks it reported scheduled
  std::size_t marks_ran = 0;  // mark runs it reported
  // Of those, the runs before its own load began: marks due from before.
  std::size_t marks_ran_recovering = 0;
  long pending_at_start = -1;  // durable tasks it re-armed at start, the beat included
};

struct CheckRun {
  int status = 0;  // 0: every invariant holds
  std::string output;
};

class CrashedWorld {
 public:
  // The store is dir/world; the reported lines go to dir/reported.log.
  explicit CrashedWorld(const TempDir& dir);

  struct Load {
    std::vector<std::string> options;      // bank-load options
    std::vector<std::string> environment;  // e.g. the disk simulator's
    // The parent sends SIGKILL after the first line for which this holds;
    // empty: the child is expected to kill itself at its crash point.
    std::function<bool(const LoadRun& so_far, const std::string& line)> kill_when;
  };

  // Runs one loaded process to its end (at most 60 s) and returns what it did.
  LoadRun load(const Load& load);
  // Checks the store in store_dir (the world's own by default) against the log.
  CheckRun check(const std::string& store_dir = "") const;

  const std::string& store() const noexcept { return store_; }

 private:
  std::string store_;
  std::string log_;
};

}  // namespace test
