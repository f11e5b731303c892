// soak_memory_{n}: n TLS sessions (10,000 by default) each send one message
// a second and read its echo, for minutes (--soak-seconds, 180 by default,
// after --soak-warmup-seconds of the same traffic, 180 by default). The server runs in a
// child process (memory_server); its resident memory is sampled every 10 s.
// Reported: the least-squares slope of the samples in KiB per minute; the
// baseline is the bound kMaxSlopeKibPerMinute, so the ratio is the share of
// it used. The run fails (exit 1) if the slope passes the bound: memory must
// stay flat under steady traffic.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "bench_util.hpp"
#include "net/child_process.hpp"
#include "net/load.hpp"
#include "net/rss.hpp"
#include "net/workloads.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

// Any heap block leaked per message is at least 32 bytes (glibc's smallest
// chunk): at the 6,000 to 8,000 messages a second one load thread drives,
// 11 to 15 MiB a minute. The allocator's own creep towards its high-water
// mark, after the warm-up, measured 0.1 to 0.4 MiB a minute (10 minutes,
// 10,000 sessions). The bound sits between the two. The warm-up matters: after
// only 60 s of traffic (2 cores, 8,100 messages a second) the server still
// grew 3.1 MiB over the next 70 s, then stayed within 40 KiB; the slope over
// 120 s, 1.6 MiB a minute, passed the bound. After the default 180 s: 0.39 MiB
// a minute over 120 s (752 KiB in the first minute, none in the second).
constexpr double kMaxSlopeKibPerMinute = 1024;
constexpr auto kTick = 10ms;  // every tick a hundredth of the sessions sends
constexpr auto kSampleEvery = 10s;

// Sends one message a second on every link, spread over the second, on the
// load thread, after acknowledging what the link received since its last
// message; counts the echoes.
class Traffic : public std::enable_shared_from_this<Traffic> {
 public:
  Traffic(asio::io_context& io, std::vector<LinkPtr<TlsSocket>>& links)
      : timer_(io), links_(links) {}

  void start() {
    for (auto& l : links_) {
      l->on_frame = [self = shared_from_this()](std::uint8_t opcode, std::string_view) {
        if (opcode == op::session_message) ++self->echoes;
      };
    }
    tick();
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  std::uint64_t sent = 0, echoes = 0;

 private:
  void tick() {
    const std::size_t slices = std::chrono::seconds(1) / kTick;
    const std::size_t per = (links_.size() + slices - 1) / slices;
    for (std::size_t i = slice_ * per; i < std::min(links_.size(), (slice_ + 1) * per); ++i) {
      if (links_[i]->closed()) continue;
      // Like the C++ client: acknowledge what arrived within about a second.
      if (links_[i]->unacknowledged()) links_[i]->acknowledge();
      links_[i]->send(op::session_message, "a light message");
      ++sent;
    }
    slice_ = (slice_ + 1) % slices;
    timer_.expires_after(kTick);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped_) self->tick();
    });
  }

  asio::steady_timer timer_;
  std::vector<LinkPtr<TlsSocket>>& links_;
  std::size_t slice_ = 0;
  bool stopped_ = false;
};

// Least-squares slope of (minutes, KiB).
double slope(const std::vector<std::pair<double, double>>& xy) {
  double mx = 0, my = 0;
  for (auto [x, y] : xy) {
    mx += x;
    my += y;
  }
  mx /= static_cast<double>(xy.size());
  my /= static_cast<double>(xy.size());
  double num = 0, den = 0;
  for (auto [x, y] : xy) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den > 0 ? num / den : 0;
}

}  // namespace

void soak(const Args& args) {
  const std::size_t n = args.memory_sessions;
  bench::ScratchDir dir(args.dir, "net-soak");
  Child child({this_program(), "--memory-server", dir.path(), std::to_string(n)});
  const std::string port_line = child.read_line(60s);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // the client's work is not what we measure
  LoadThread t;
  Link<TlsSocket>::Options o;
  o.port = static_cast<std::uint16_t>(std::stoul(port_line.substr(5)));
  o.read_chunk = 1024;
  auto wave = log_in_all<TlsSocket>(t, n, "soak", o, 64, Clock::now() + 600s,
                                    [&](asio::io_context& io, const Link<TlsSocket>::Options& lo) {
                                      return std::make_shared<Link<TlsSocket>>(io, lo, ctx);
                                    });
  if (wave.ok != n) {
    throw std::runtime_error(
        fmt::format("only {} of {} sessions logged in: {}", wave.ok, n, wave.first_failure));
  }
  auto traffic = std::make_shared<Traffic>(t.io(), wave.links);
  t.call([&] {
    traffic->start();
    return 0;
  });
  std::this_thread::sleep_for(args.soak_warmup);

  std::vector<std::pair<double, double>> samples;  // minutes since the first, KiB
  const auto t0 = Clock::now();
  for (auto at = t0; at <= t0 + args.soak; at += kSampleEvery) {
    std::this_thread::sleep_until(at);
    const ChildRss r = ask_rss(child);
    const double minutes = std::chrono::duration<double>(Clock::now() - t0).count() / 60;
    samples.emplace_back(minutes, static_cast<double>(r.rss.vm_rss_kib));
    fmt::print(stderr, "  {:6.1f} s  server RSS {} KiB (anonymous {} KiB), {} sessions\n",
               minutes * 60, r.rss.vm_rss_kib, r.rss.rss_anon_kib, r.sessions);
  }
  const auto counts = t.call([&] {
    traffic->stop();
    return std::pair{traffic->sent, traffic->echoes};
  });
  std::string problem;
  const std::size_t closed = count_closed<TlsSocket>(t, wave.links, problem);
  close_all<TlsSocket>(t, wave.links);
  t.finish();
  child.send_line("quit");

  const double per_minute = slope(samples);
  const double first = samples.front().second, last = samples.back().second;
  const double seconds = std::chrono::duration<double>(args.soak_warmup + args.soak).count();
  const double rate = std::max(static_cast<double>(counts.first) / seconds, 1.0);
  bench::report(
      fmt::format("soak_memory_{}", n), per_minute, "KiB/min", kMaxSlopeKibPerMinute,
      fmt::format(R"("sessions":{},"soak_s":{},"warmup_s":{},"samples":{},"first_kib":{:.0f},)"
                  R"("last_kib":{:.0f},"growth_kib":{:.0f},)"
                  R"("messages_per_s":{:.0f},"slope_bytes_per_message":{:.2f},"echoes":{},)"
                  R"("links_closed":{},"baseline_is":"the bound on the slope, KiB/min")",
                  n, std::chrono::duration<double>(args.soak).count(),
                  std::chrono::duration<double>(args.soak_warmup).count(), samples.size(), first,
                  last, last - first, rate, per_minute * 1024 / (rate * 60), counts.second,
                  closed));
  if (closed != 0) throw std::runtime_error("sessions were closed during the soak: " + problem);
  if (per_minute > kMaxSlopeKibPerMinute) {
    throw std::runtime_error(fmt::format("the server's memory grew {:.0f} KiB a minute (bound {})",
                                         per_minute, kMaxSlopeKibPerMinute));
  }
}

}  // namespace netbench
