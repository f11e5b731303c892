#include "net/thread_cpu.hpp"

#include <dirent.h>
#include <time.h>

#include <cstdlib>
#include <fstream>

namespace netbench {
namespace {

// Linux's CPU-time clock of one thread of this process, by thread id (what
// glibc's pthread_getcpuclockid builds: CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD).
clockid_t thread_clock(int tid) {
  return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6u);
}

}  // namespace

std::map<int, std::uint64_t> ThreadCpu::sample() const {
  std::map<int, std::uint64_t> out;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    const int tid = std::atoi(e->d_name);
    if (tid <= 0) continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind(prefix_, 0) != 0) continue;
    timespec ts{};
    if (::clock_gettime(thread_clock(tid), &ts) != 0) continue;  // it ended meanwhile
    out[tid] = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
               static_cast<std::uint64_t>(ts.tv_nsec);
  }
  ::closedir(dir);
  return out;
}

void ThreadCpu::start() {
  start_ = sample();
}

std::uint64_t ThreadCpu::elapsed_ns() const {
  std::uint64_t total = 0;
  for (const auto& [tid, ns] : sample()) {
    auto it = start_.find(tid);
    const std::uint64_t from = it == start_.end() ? 0 : it->second;
    if (ns > from) total += ns - from;
  }
  return total;
}

}  // namespace netbench
