#include "support/crash_harness.hpp"

#include <fstream>
#include <stdexcept>

namespace test {

CrashedWorld::CrashedWorld(const TempDir& dir)
    : store_(dir.sub("world")), log_(dir.sub("reported.log")) {
  std::ofstream(log_, std::ios::trunc);
}

LoadRun CrashedWorld::load(const Load& load) {
  std::vector<std::string> argv = {helper_path(), "bank-load", store_};
  argv.insert(argv.end(), load.options.begin(), load.options.end());
  Child child(argv, load.environment);
  std::ofstream log(log_, std::ios::app);
  LoadRun run;
  bool killed = false;
  // Every line the child wrote before it died is read, the kill included.
  while (auto line = child.read_line(std::chrono::seconds(60))) {
    log << *line << "\n";
    if (line->rfind("committed ", 0) == 0) ++run.committed;
    if (line->rfind("scheduled ", 0) == 0) ++run.scheduled;
    if (line->rfind("ran mark ", 0) == 0) {
      ++run.marks_ran;
      if (run.pending_at_start < 0) ++run.marks_ran_recovering;
    }
    if (line->rfind("run ", 0) == 0) {
      run.pending_at_start = std::stol(line->substr(line->find(" pending ") + 9));
    }
    if (!killed && load.kill_when && load.kill_when(run, *line)) {
      child.kill_hard();
      killed = true;
    }
  }
  if (!killed) child.kill_hard();  // a child silent for 60 s
  run.status = child.wait();
  return run;
}

CheckRun CrashedWorld::check(const std::string& store_dir) const {
  Child child({helper_path(), "bank-check", store_dir.empty() ? store_ : store_dir, log_});
  CheckRun run;
  while (auto line = child.read_line(std::chrono::seconds(120)))
    run.output += *line + "\n";
  child.kill_hard();  // a checker silent for 120 s is stuck; one that exited keeps its status
  run.status = child.wait();
  return run;
}

}  // namespace test
