// fairness_flood: 100 well-behaved echo clients, one message in flight each,
// measured alone, then again while one more client floods (keeps
// kFloodInFlight messages in flight). A flooding client must not starve the
// others: the well-behaved clients' p99 with the flood is compared with
// their p99 without it.
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kFairBytes = 64;
constexpr std::size_t kFloodInFlight = 1000;

}  // namespace

void fairness_flood(const Args& args, std::size_t n) {
  bench::ScratchDir dir(args.dir, "net-fairness");
  LogTap tap;
  auto options = net_options(dir.path(), tap);
  options.max_message_rate = 0;  // (as net_options has it) the flood reaches the task queue
  starhold::Server server(options);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();

  Loop loop;
  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  auto wave = log_in_all<tcp::socket>(t, n, "fair", o, 200, Clock::now() + 60s, tcp_link);
  auto flooders = log_in_all<tcp::socket>(t, 1, "flood", o, 1, Clock::now() + 30s, tcp_link);
  if (flooders.ok != 1) {
    fmt::print(stderr, "fairness_flood: the flooder could not log in ({})\n",
               flooders.first_failure);
    close_all<tcp::socket>(t, wave.links);
    close_all<tcp::socket>(t, flooders.links);
    t.finish();
    return;
  }
  const std::string message(kFairBytes, 'w');
  const std::string flood_message(kFairBytes, 'x');
  std::vector<Clock::time_point> sent(wave.links.size());

  // The flooder's state, on the load thread. Its echoes come back in the
  // order sent (one session's messages are handled in order).
  struct Flood {
    bool stopping = false;
    std::uint64_t outstanding = 0, done = 0, in_window = 0;
    std::deque<Clock::time_point> sent;
    bench::Latencies latencies;  // microseconds, within the measured interval
  } flood;
  Link<tcp::socket>* flooder = flooders.links[0].get();
  auto flood_one = [&] {
    flood.sent.push_back(Clock::now());
    ++flood.outstanding;
    flooder->send(op::session_message, flood_message);
  };

  // Each well-behaved client sends one message; each echo sends the next
  // until the loop stops.
  auto kick = [&] {
    t.call([&] {
      loop.stopping = false;
      for (std::size_t i = 0; i < wave.links.size(); ++i) {
        if (!wave.links[i]->logged_in() || wave.links[i]->closed()) continue;
        loop.send(sent, i, *wave.links[i], message);
      }
      return 0;
    });
  };
  t.call([&] {
    for (std::size_t i = 0; i < wave.links.size(); ++i) {
      Link<tcp::socket>* link = wave.links[i].get();
      if (!link->logged_in()) continue;
      link->on_frame = [&, link, i](std::uint8_t opcode, std::string_view body) {
        if (opcode != op::session_message || body.size() != kFairBytes) return;
        loop.answered(sent, i, *link, message, Clock::now());
      };
    }
    flooder->on_frame = [&](std::uint8_t opcode, std::string_view body) {
      if (opcode != op::session_message || body.size() != kFairBytes || flood.sent.empty()) return;
      const auto now = Clock::now();
      --flood.outstanding;
      ++flood.done;
      if (loop.measuring) {
        ++flood.in_window;
        flood.latencies.add(ms_between(flood.sent.front(), now) * 1000);
      }
      flood.sent.pop_front();
      if (flood.stopping || loop.stopping || flood.done >= kMaxRoundTrips) return;
      flood_one();
    };
    return 0;
  });
  const auto before = server.metrics();

  // Alone.
  kick();
  const LoopResult alone = measure_loop(t, loop, args, "sh-");

  // Beside the flood (which stops when the well-behaved clients do).
  t.call([&] {
    for (std::size_t k = 0; k < kFloodInFlight; ++k)
      flood_one();
    return 0;
  });
  kick();
  const LoopResult flooded = measure_loop(t, loop, args, "sh-");
  t.call([&] { return flood.stopping = true; });
  const auto drain_deadline = Clock::now() + 10s;
  while (t.call([&] { return flood.outstanding; }) > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(10ms);
  const std::uint64_t flood_unanswered = t.call([&] { return flood.outstanding; });
  const std::uint64_t flood_in_window = t.call([&] { return flood.in_window; });

  std::string problem;
  const std::size_t closed = count_closed<tcp::socket>(t, wave.links, problem);
  if (problem.empty() && wave.ok < n) problem = wave.first_failure;
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  std::string flooder_why;
  const std::size_t flooder_closed = count_closed<tcp::socket>(t, flooders.links, flooder_why);
  if (!flooder_why.empty()) fmt::print(stderr, "  flooder closed: {}\n", flooder_why);
  close_all<tcp::socket>(t, wave.links);
  close_all<tcp::socket>(t, flooders.links);
  t.finish();
  const auto after = server.metrics();

  const double p99_ratio = alone.p99_ms > 0 ? flooded.p99_ms / alone.p99_ms : 0.0;
  const double flood_per_s =
      flooded.seconds > 0 ? static_cast<double>(flood_in_window) / flooded.seconds : 0.0;
  // Of the messages answered in the flooded interval, the flooder's part.
  const double flood_share = flood_in_window + flooded.completed > 0
                                 ? static_cast<double>(flood_in_window) /
                                       static_cast<double>(flood_in_window + flooded.completed)
                                 : 0.0;
  bench::report(
      "fairness_flood", flooded.p99_ms, "ms", alone.p99_ms,
      fmt::format(
          R"("transport":"tcp","clients":{},"logged_in":{},"in_flight_per_client":1,)"
          R"("message_bytes":{},"flooder_in_flight":{},"max_message_rate":{},)"
          R"("alone_p50_ms":{:.3f},"alone_p99_ms":{:.3f},"alone_round_trips_per_s":{:.0f},)"
          R"("p50_ms":{:.3f},"p99_ms":{:.3f},"round_trips_per_s":{:.0f},"p99_ratio":{:.2f},)"
          R"("flooder_messages_per_s":{:.0f},"flooder_share":{:.3f},"flooder_p50_ms":{:.3f},)"
          R"("flooder_p99_ms":{:.3f},)"
          R"("unanswered":{},"flooder_unanswered":{},"links_closed":{},"flooder_closed":{},)",
          n, wave.ok, kFairBytes, kFloodInFlight, options.max_message_rate, alone.p50_ms,
          alone.p99_ms, alone.per_second, flooded.p50_ms, flooded.p99_ms, flooded.per_second,
          p99_ratio, flood_per_s, flood_share, flood.latencies.quantile(0.50) / 1000,
          flood.latencies.quantile(0.99) / 1000, alone.unanswered + flooded.unanswered,
          flood_unanswered, closed, flooder_closed) +
          server_notes(before, after, tap));
}

}  // namespace netbench
