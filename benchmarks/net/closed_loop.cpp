#include "net/closed_loop.hpp"

#include "net/thread_cpu.hpp"

#include <thread>
#include <utility>

namespace netbench {

using namespace std::chrono_literals;

LoopResult measure_loop(LoadThread& t, Loop& loop, const Args& args,
                        const std::string& server_threads) {
  std::this_thread::sleep_for(args.warmup);
  ThreadCpu cpu(server_threads);
  cpu.start();
  auto [c0, t0] = t.call([&] {
    loop.latencies.clear();
    loop.measuring = true;
    return std::pair{loop.done, Clock::now()};
  });
  std::this_thread::sleep_for(args.measure);
  auto [c1, t1] = t.call([&] {
    loop.measuring = false;
    loop.stopping = true;
    return std::pair{loop.done, Clock::now()};
  });
  const std::uint64_t cpu_ns = cpu.elapsed_ns();
  const auto drain_deadline = Clock::now() + 5s;
  while (t.call([&] { return loop.outstanding; }) > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(10ms);
  LoopResult r;
  r.completed = c1 - c0;
  r.seconds = ms_between(t0, t1) / 1000;
  r.per_second = static_cast<double>(r.completed) / r.seconds;
  if (r.completed > 0) r.server_cpu_us = static_cast<double>(cpu_ns) / 1000 / r.completed;
  r.p50_ms = loop.latencies.quantile(0.50) / 1000;
  r.p99_ms = loop.latencies.quantile(0.99) / 1000;
  r.unanswered = t.call([&] { return loop.outstanding; });
  return r;
}

}  // namespace netbench
