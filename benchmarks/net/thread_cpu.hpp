// The CPU time of a server's own threads, told apart from the load
// generator's by name (Starhold's are sh-*, the raw baseline's raw-echo), so
// a benchmark can print server CPU per operation for both in one process.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace netbench {

class ThreadCpu {
 public:
  explicit ThreadCpu(std::string prefix) : prefix_(std::move(prefix)) {}
  // Starts a window: remembers each matching thread's CPU time now.
  void start();
  // CPU nanoseconds the matching threads used since start() (threads that
  // began meanwhile count from zero; threads that ended are lost).
  std::uint64_t elapsed_ns() const;

 private:
  std::map<int, std::uint64_t> sample() const;  // tid -> CPU ns
  std::string prefix_;
  std::map<int, std::uint64_t> start_;
};

}  // namespace netbench
