// durable_1000: N TCP clients, one message in flight each; each message's
// task adds one to the session's counter object (created at login) and
// replies with the new count, which leaves once the commit is durable.
// Afterwards the counters, read back through tasks, must add up to the
// replies the clients received.
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kDurableBytes = 16;
// Counters read back per task.
constexpr std::size_t kReadBackBatch = 250;

}  // namespace

void durable(const Args& args, std::size_t n) {
  bench::ScratchDir dir(args.dir, "net-durable");
  LogTap tap;
  const auto options = net_options(dir.path(), tap);
  starhold::Server server(options);
  server.set_app_listener(std::make_shared<CounterWorld>());
  server.start();

  Loop loop;
  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  const std::string prefix = "durable";
  auto wave = log_in_all<tcp::socket>(t, n, prefix, o, 200, Clock::now() + 60s, tcp_link);
  const std::string message(kDurableBytes, 'd');
  std::vector<Clock::time_point> sent(wave.links.size());
  // Replies each client received (warm-up and drain included); a reply's
  // count must be the client's reply number.
  std::vector<std::uint64_t> replies(wave.links.size());
  std::uint64_t replies_total = 0, mismatched = 0;
  const auto before = server.metrics();
  t.call([&] {
    for (std::size_t i = 0; i < wave.links.size(); ++i) {
      Link<tcp::socket>* link = wave.links[i].get();
      if (!link->logged_in()) continue;
      link->on_frame = [&, link, i](std::uint8_t opcode, std::string_view body) {
        if (opcode != op::session_message) return;
        const auto now = Clock::now();
        std::uint64_t count = 0;
        std::from_chars(body.data(), body.data() + body.size(), count);
        ++replies_total;
        if (count != ++replies[i]) ++mismatched;
        loop.answered(sent, i, *link, message, now);
      };
      loop.send(sent, i, *link, message);
    }
    return 0;
  });
  const LoopResult r = measure_loop(t, loop, args, "sh-");
  const auto after = server.metrics();  // every answered message's commit, no logout yet
  std::string problem;
  const std::size_t closed = count_closed<tcp::socket>(t, wave.links, problem);
  if (problem.empty() && wave.ok < n) problem = wave.first_failure;
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  const std::uint64_t received = t.call([&] { return replies_total; });
  close_all<tcp::socket>(t, wave.links);
  t.finish();

  // The counters, through tasks (after the links closed: nothing is in flight
  // unless some message went unanswered).
  std::uint64_t counted = 0;
  std::size_t missing = 0;
  for (std::size_t start = 0; start < n; start += kReadBackBatch) {
    const auto [sum, absent] =
        server
            .submit("read back counters",
                    [&prefix, start, n](starhold::Transaction& tx) {
                      std::uint64_t s = 0;
                      std::size_t a = 0;
                      for (std::size_t i = start; i < std::min(n, start + kReadBackBatch); ++i) {
                        const auto c = read_counter(tx, prefix + std::to_string(i));
                        if (c) {
                          s += *c;
                        } else {
                          ++a;
                        }
                      }
                      return std::pair{s, a};
                    })
            .get();
    counted += sum;
    missing += absent;
  }
  if (counted != received) {
    fmt::print(stderr, "  problem: the counters add up to {} but the clients received {} replies\n",
               counted, received);
  }
  if (mismatched != 0) {
    fmt::print(stderr,
               "  problem: {} replies carried a count other than the client's reply number\n",
               mismatched);
  }
  const double batches = static_cast<double>(after.store_batches - before.store_batches);
  bench::report(
      fmt::format("durable_{}", n), r.per_second, "messages/s", std::nullopt,
      fmt::format(
          R"("transport":"tcp","durable":{},"clients":{},"logged_in":{},"in_flight_per_client":1,)"
          R"("message_bytes":{},"objects_updated_per_message":1,"p50_ms":{:.3f},"p99_ms":{:.3f},)"
          R"("messages":{},"unanswered":{},"links_closed":{},"login_s":{:.2f},)"
          R"("server_cpu_us_per_message":{:.2f},"avg_batch":{:.0f},"replies_received":{},)"
          R"("counters_sum":{},"counters_missing":{},"counters_match":{},"reply_mismatches":{},)",
          options.durable, n, wave.ok, kDurableBytes, r.p50_ms, r.p99_ms, r.completed, r.unanswered,
          closed, wave.seconds, r.server_cpu_us,
          batches > 0
              ? static_cast<double>(after.tasks_committed - before.tasks_committed) / batches
              : 0.0,
          received, counted, missing, counted == received ? "true" : "false", mismatched) +
          server_notes(before, after, tap));
}

}  // namespace netbench
