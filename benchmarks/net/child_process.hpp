// Another program run as a child process, talking over its stdin and stdout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace netbench {

// The path of the running program (to run it again as a child).
std::string this_program();

// Spawns args[0] (a path) with args as its argv; its stdin and stdout are
// pipes to this object. Throws std::runtime_error if the spawn fails. The
// destructor closes the child's stdin, waits up to 30 s for it to exit, then
// kills it. Not thread-safe.
class Child {
 public:
  explicit Child(std::vector<std::string> args);
  ~Child();

  // Writes s and a newline to the child's stdin; throws if it cannot.
  void send_line(const std::string& s);
  // The next line from the child; throws after timeout.
  std::string read_line(std::chrono::milliseconds timeout);
  // Kills the child with SIGKILL and reaps it.
  void kill_hard();

 private:
  pid_t pid_ = 0;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

}  // namespace netbench
