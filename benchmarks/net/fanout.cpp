// fanout_1000: one session publishes on a channel of 1,000 members, kept at
// most a window ahead of what the members received.
#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kFanoutBytes = 64;
// Publishes allowed ahead of what the members received, on average.
constexpr std::uint64_t kFanoutWindow = 1000;
constexpr std::uint64_t kFanoutAckEvery = 1024;
constexpr std::uint64_t kMaxPublishes = 10'000'000;

}  // namespace

void fanout(const Args& args, std::size_t members) {
  bench::ScratchDir dir(args.dir, "net-fanout");
  LogTap tap;
  starhold::Server server(net_options(dir.path(), tap));
  server.set_app_listener(std::make_shared<FanoutWorld>());
  server.start();

  struct Fanout {
    std::uint64_t joined = 0, delivered = 0, published = 0;
    bool stopping = false;
    Link<tcp::socket>* publisher = nullptr;
    std::string message = std::string(kFanoutBytes, 'f');
    std::size_t members = 0;
    // Publishes while the members, on average, are less than a window behind.
    void pump() {
      if (publisher == nullptr) return;
      while (!stopping && published < kMaxPublishes &&
             published < kFanoutWindow + delivered / members) {
        publisher->send(op::session_message, message);
        ++published;
      }
    }
  } f;
  f.members = members;

  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  o.ack_every = kFanoutAckEvery;
  auto wave =
      log_in_all<tcp::socket>(t, members, "member", o, 200, Clock::now() + 60s,
                              [&](asio::io_context& io, const Link<tcp::socket>::Options& lo) {
                                auto link = tcp_link(io, lo);
                                link->on_frame = [&f](std::uint8_t opcode, std::string_view) {
                                  if (opcode == op::channel_message) {
                                    ++f.delivered;
                                    f.pump();
                                  } else if (opcode == op::channel_joined) {
                                    ++f.joined;
                                  }
                                };
                                return link;
                              });
  const auto joined_deadline = Clock::now() + 30s;
  while (t.call([&] { return f.joined; }) < wave.ok && Clock::now() < joined_deadline)
    std::this_thread::sleep_for(10ms);
  auto pub = log_in_all<tcp::socket>(t, 1, "publisher", o, 1, Clock::now() + 30s, tcp_link);
  const std::size_t joined = t.call([&] { return f.joined; });
  if (pub.ok != 1 || joined == 0) {
    fmt::print(stderr, "fanout: the publisher could not log in or no member joined ({})\n",
               pub.first_failure);
    close_all<tcp::socket>(t, wave.links);
    close_all<tcp::socket>(t, pub.links);
    t.finish();
    return;
  }
  f.members = joined;

  const auto before = server.metrics();
  t.call([&] {
    f.publisher = pub.links[0].get();
    f.pump();
    return 0;
  });
  std::this_thread::sleep_for(args.warmup);
  auto [d0, p0, t0] = t.call([&] { return std::tuple{f.delivered, f.published, Clock::now()}; });
  std::this_thread::sleep_for(args.measure);
  auto [d1, p1, t1] = t.call([&] {
    f.stopping = true;
    return std::tuple{f.delivered, f.published, Clock::now()};
  });
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
  bench::report(
      fmt::format("fanout_{}", members), static_cast<double>(d1 - d0) / secs, "deliveries/s",
      std::nullopt,
      fmt::format(R"("transport":"tcp","members":{},"message_bytes":{},"publishes_per_s":{:.0f},)"
                  R"("publish_window":{},"ack_every":{},"members_incomplete":{},"undelivered":{},)",
                  joined, kFanoutBytes, static_cast<double>(p1 - p0) / secs, kFanoutWindow,
                  kFanoutAckEvery, incomplete, undelivered) +
          server_notes(before, after, tap));
}

}  // namespace netbench
