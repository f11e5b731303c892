// A closed loop: each client keeps its requests in flight, sending the next
// as an answer comes, while the main thread times a warm-up and a measured
// interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bench_util.hpp"
#include "net/load.hpp"
#include "net/workloads.hpp"

namespace netbench {

// Answers per run, beside the time bound.
constexpr std::uint64_t kMaxRoundTrips = 50'000'000;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// What a closed-loop run measured, on the load thread.
struct Loop {
  bool measuring = false, stopping = false;
  std::uint64_t done = 0, outstanding = 0;
  bench::Latencies latencies;  // microseconds
};

struct LoopResult {
  double per_second = 0, p50_ms = 0, p99_ms = 0;
  // CPU time of the server's threads per answer over the measured interval.
  double server_cpu_us = 0;
  std::uint64_t completed = 0, unanswered = 0;
  double seconds = 0;  // the measured interval
};

// Warms up, measures, then stops the clients sending and waits (bounded) for
// the answers still due. server_threads: the name prefix of the server's
// threads, whose CPU time is measured over the same interval.
LoopResult measure_loop(LoadThread& t, Loop& loop, const Args& args,
                        const std::string& server_threads);

}  // namespace netbench
