// A closed loop: each client keeps its requests in flight, sending the next
// as an answer comes, while the main thread times a warm-up and a measured
// interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

  // Client i's message went out now (sent has room for every client).
  template <class Stream>
  void send(std::vector<Clock::time_point>& sent, std::size_t i, Link<Stream>& link,
            std::string_view message, Clock::time_point now = Clock::now()) {
    sent[i] = now;
    ++outstanding;
    link.send(op::session_message, message);
  }
  // Client i's answer came now: counts it, times it while measuring, and
  // sends the next message unless the loop is stopping.
  template <class Stream>
  void answered(std::vector<Clock::time_point>& sent, std::size_t i, Link<Stream>& link,
                std::string_view message, Clock::time_point now) {
    --outstanding;
    ++done;
    if (measuring) latencies.add(std::chrono::duration<double, std::micro>(now - sent[i]).count());
    if (stopping || done >= kMaxRoundTrips) return;
    send(sent, i, link, message, now);
  }
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
