// echo_tcp_{100,1000}, echo_ws_{100,1000} and echo_tls_100: N clients, one
// message in flight each; every echo is a committed task. Each first measures
// its raw baseline (Asio, or Beast for WebSocket) with the same clients.
#include <optional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/raw_echo_server.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kEchoBytes = 64;

struct EchoRun {
  LoopResult loop;
  std::size_t clients = 0, logged_in = 0, closed = 0;
  double login_seconds = 0;
  std::string problem;
};

template <class Stream>
EchoRun run_echo(std::uint16_t port, std::size_t n, const Args& args, MakeLink<Stream> make_link,
                 const std::string& server_threads) {
  Loop loop;
  LoadThread t;
  typename Link<Stream>::Options o;
  o.port = port;
  auto wave = log_in_all<Stream>(t, n, "echo", o, 200, Clock::now() + 60s, make_link);
  const std::string message(kEchoBytes, 'e');
  std::vector<Clock::time_point> sent(wave.links.size());
  t.call([&] {
    for (std::size_t i = 0; i < wave.links.size(); ++i) {
      Link<Stream>* link = wave.links[i].get();
      if (!link->logged_in()) continue;
      link->on_frame = [&, link, i](std::uint8_t opcode, std::string_view body) {
        if (opcode != op::session_message) return;
        const auto now = Clock::now();
        if (body.size() != kEchoBytes) return;
        loop.answered(sent, i, *link, message, now);
      };
      loop.send(sent, i, *link, message);
    }
    return 0;
  });
  EchoRun r;
  r.loop = measure_loop(t, loop, args, server_threads);
  r.clients = n;
  r.logged_in = wave.ok;
  r.login_seconds = wave.seconds;
  r.closed = count_closed<Stream>(t, wave.links, r.problem);
  if (r.problem.empty() && wave.ok < n) r.problem = wave.first_failure;
  close_all<Stream>(t, wave.links);
  t.finish();  // no handler runs past this point, so the state above may go
  return r;
}

std::string echo_fields(const EchoRun& r, const char* transport) {
  std::string s = fmt::format(
      R"("transport":"{}","clients":{},"logged_in":{},"in_flight_per_client":1,"message_bytes":{},)"
      R"("p50_ms":{:.3f},"p99_ms":{:.3f},"round_trips":{},"unanswered":{},"links_closed":{},)"
      R"("login_s":{:.2f},"server_cpu_us_per_round_trip":{:.2f})",
      transport, r.clients, r.logged_in, kEchoBytes, r.loop.p50_ms, r.loop.p99_ms, r.loop.completed,
      r.loop.unanswered, r.closed, r.login_seconds, r.loop.server_cpu_us);
  if (!r.problem.empty()) fmt::print(stderr, "  client problem: {}\n", r.problem);
  return s;
}

// The Starhold line, beside the raw baseline measured just before it.
void report_beside_raw(const std::string& name, const char* transport, const EchoRun& raw,
                       const EchoRun& r, const std::string& notes) {
  bench::report(
      name, r.loop.per_second, "round_trips/s", raw.loop.per_second,
      echo_fields(r, transport) +
          fmt::format(
              R"(,"raw_p50_ms":{:.3f},"raw_p99_ms":{:.3f},)"
              R"("raw_server_cpu_us_per_round_trip":{:.2f},"cpu_ratio":{:.2f},)",
              raw.loop.p50_ms, raw.loop.p99_ms, raw.loop.server_cpu_us,
              raw.loop.server_cpu_us > 0 ? r.loop.server_cpu_us / raw.loop.server_cpu_us : 0.0) +
          notes);
}

}  // namespace

void echo_tcp(const Args& args, std::size_t n) {
  EchoRun raw;
  {
    RawEchoServer server;
    raw = run_echo<tcp::socket>(server.port(), n, args, tcp_link, "raw-echo");
  }
  bench::report(fmt::format("echo_tcp_{}_raw_asio", n), raw.loop.per_second, "round_trips/s",
                std::nullopt, echo_fields(raw, "tcp"));
  bench::ScratchDir dir(args.dir, "net-echo");
  LogTap tap;
  starhold::Server server(net_options(dir.path(), tap));
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  const auto before = server.metrics();
  const EchoRun r =
      run_echo<tcp::socket>(server.port(starhold::Server::Listener::tcp), n, args, tcp_link, "sh-");
  const auto after = server.metrics();
  report_beside_raw(fmt::format("echo_tcp_{}", n), "tcp", raw, r, server_notes(before, after, tap));
}

void echo_ws(const Args& args, std::size_t n) {
  EchoRun raw;
  {
    RawEchoServer server{RawWebSocket{}};
    raw = run_echo<WsSocket>(server.port(), n, args, ws_link, "raw-echo");
  }
  bench::report(fmt::format("echo_ws_{}_raw_beast", n), raw.loop.per_second, "round_trips/s",
                std::nullopt, echo_fields(raw, "ws"));
  bench::ScratchDir dir(args.dir, "net-echo-ws");
  LogTap tap;
  auto o = net_options(dir.path(), tap);
  o.tcp_port = -1;
  o.websocket_port = 0;
  o.websocket_tls = false;
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  const auto before = server.metrics();
  const EchoRun r = run_echo<WsSocket>(server.port(starhold::Server::Listener::websocket), n, args,
                                       ws_link, "sh-");
  const auto after = server.metrics();
  report_beside_raw(fmt::format("echo_ws_{}", n), "ws", raw, r, server_notes(before, after, tap));
}
void echo_tls(const Args& args, std::size_t n) {
  bench::ScratchDir dir(args.dir, "net-echo-tls");
  const std::string certificate = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  starhold::write_development_certificate(certificate, key);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(certificate);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  const MakeLink<TlsSocket> tls_link = [&](asio::io_context& io,
                                           const Link<TlsSocket>::Options& lo) {
    return std::make_shared<Link<TlsSocket>>(io, lo, ctx);
  };
  EchoRun raw;
  {
    RawEchoServer server(RawTlsFiles{certificate, key});
    raw = run_echo<TlsSocket>(server.port(), n, args, tls_link, "raw-echo");
  }
  bench::report(fmt::format("echo_tls_{}_raw_asio", n), raw.loop.per_second, "round_trips/s",
                std::nullopt, echo_fields(raw, "tls"));
  LogTap tap;
  auto o = net_options(dir.path() + "/store", tap);
  o.tcp_port = -1;
  o.tls_port = 0;
  o.tls_certificate = certificate;
  o.tls_private_key = key;
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  const auto before = server.metrics();
  const EchoRun r =
      run_echo<TlsSocket>(server.port(starhold::Server::Listener::tls), n, args, tls_link, "sh-");
  const auto after = server.metrics();
  report_beside_raw(fmt::format("echo_tls_{}", n), "tls", raw, r, server_notes(before, after, tap));
}

}  // namespace netbench
