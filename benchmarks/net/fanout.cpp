// fanout_1000 and fanout_1000_4senders: one session, or four, publish on a
// channel of 1,000 members, each kept at most a window ahead of what the
// members received of its messages. Server CPU per delivery is measured over
// the measured interval.
#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/thread_cpu.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kFanoutBytes = 64;
// Publishes allowed ahead of what the members received, on average, per publisher.
constexpr std::uint64_t kFanoutWindow = 1000;
constexpr std::uint64_t kFanoutAckEvery = 1024;
constexpr std::uint64_t kMaxPublishes = 10'000'000;

}  // namespace

void fanout(const Args& args, std::size_t members, std::size_t publishers) {
  bench::ScratchDir dir(args.dir, "net-fanout");
  LogTap tap;
  starhold::Server server(net_options(dir.path(), tap));
  server.set_app_listener(std::make_shared<FanoutWorld>());
  server.start();

  // Publisher k's messages begin with the byte k; the members count
  // deliveries per publisher.
  struct Fanout {
    std::uint64_t joined = 0, delivered = 0, published = 0;
    bool stopping = false;
    std::vector<Link<tcp::socket>*> publishers;
    std::vector<std::uint64_t> published_by, delivered_by;
    std::vector<std::string> messages;
    std::size_t members = 0;
    // Publisher k publishes while the members, on average, are less than a
    // window behind on its messages.
    void pump(std::size_t k) {
      if (k >= publishers.size()) return;
      while (!stopping && published < kMaxPublishes &&
             published_by[k] < kFanoutWindow + delivered_by[k] / members) {
        publishers[k]->send(op::session_message, messages[k]);
        ++published_by[k];
        ++published;
      }
    }
  } f;
  f.members = members;
  f.published_by.assign(publishers, 0);
  f.delivered_by.assign(publishers, 0);
  for (std::size_t k = 0; k < publishers; ++k) {
    f.messages.push_back(std::string(1, static_cast<char>(k)) + std::string(kFanoutBytes - 1, 'f'));
  }

  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  o.ack_every = kFanoutAckEvery;
  auto wave = log_in_all<tcp::socket>(
      t, members, "member", o, 200, Clock::now() + 60s,
      [&](asio::io_context& io, const Link<tcp::socket>::Options& lo) {
        auto link = tcp_link(io, lo);
        link->on_frame = [&f](std::uint8_t opcode, std::string_view body) {
          if (opcode == op::channel_message) {
            // u64 channel, then the message
            const std::size_t k = body.size() > 8 ? static_cast<unsigned char>(body[8]) : 0;
            ++f.delivered;
            if (k < f.delivered_by.size()) ++f.delivered_by[k];
            f.pump(k);
          } else if (opcode == op::channel_joined) {
            ++f.joined;
          }
        };
        return link;
      });
  const auto joined_deadline = Clock::now() + 30s;
  while (t.call([&] { return f.joined; }) < wave.ok && Clock::now() < joined_deadline)
    std::this_thread::sleep_for(10ms);
  auto pub = log_in_all<tcp::socket>(t, publishers, "publisher", o, publishers, Clock::now() + 30s,
                                     tcp_link);
  const std::size_t joined = t.call([&] { return f.joined; });
  if (pub.ok != publishers || joined == 0) {
    fmt::print(stderr, "fanout: a publisher could not log in or no member joined ({})\n",
               pub.first_failure);
    close_all<tcp::socket>(t, wave.links);
    close_all<tcp::socket>(t, pub.links);
    t.finish();
    return;
  }
  f.members = joined;

  const auto before = server.metrics();
  t.call([&] {
    for (const auto& l : pub.links)
      f.publishers.push_back(l.get());
    for (std::size_t k = 0; k < publishers; ++k)
      f.pump(k);
    return 0;
  });
  std::this_thread::sleep_for(args.warmup);
  ThreadCpu cpu("sh-");
  cpu.start();
  auto [d0, p0, t0] = t.call([&] { return std::tuple{f.delivered, f.published, Clock::now()}; });
  std::this_thread::sleep_for(args.measure);
  auto [d1, p1, t1] = t.call([&] {
    f.stopping = true;
    return std::tuple{f.delivered, f.published, Clock::now()};
  });
  const std::uint64_t cpu_ns = cpu.elapsed_ns();
  const std::uint64_t due = t.call([&] { return f.published * f.members; });
  const auto drain_deadline = Clock::now() + 10s;
  while (t.call([&] { return f.delivered; }) < due && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(10ms);
  // Every member still connected must have every message (and its CHANNEL_JOINED).
  std::size_t incomplete = 0;
  std::string problem;
  t.call([&] {
    for (const auto& l : wave.links) {
      if (!l->logged_in()) continue;
      if (l->received() != f.published + 1) ++incomplete;
      if (l->closed() && problem.empty()) problem = l->why();
    }
    return 0;
  });
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  const std::uint64_t undelivered = due - std::min(due, t.call([&] { return f.delivered; }));
  close_all<tcp::socket>(t, wave.links);
  close_all<tcp::socket>(t, pub.links);
  t.finish();
  const auto after = server.metrics();
  const double secs = ms_between(t0, t1) / 1000;
  const std::uint64_t deliveries = d1 - d0;
  bench::report(
      publishers == 1 ? fmt::format("fanout_{}", members)
                      : fmt::format("fanout_{}_{}senders", members, publishers),
      static_cast<double>(deliveries) / secs, "deliveries/s", std::nullopt,
      fmt::format(
          R"("transport":"tcp","members":{},"publishers":{},"message_bytes":{},)"
          R"("publishes_per_s":{:.0f},"publish_window":{},"ack_every":{},)"
          R"("members_incomplete":{},"undelivered":{},"server_cpu_us_per_delivery":{:.3f},)",
          joined, publishers, kFanoutBytes, static_cast<double>(p1 - p0) / secs, kFanoutWindow,
          kFanoutAckEvery, incomplete, undelivered,
          deliveries > 0 ? static_cast<double>(cpu_ns) / 1000 / deliveries : 0.0) +
          server_notes(before, after, tap));
}

}  // namespace netbench
