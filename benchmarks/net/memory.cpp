// memory_tls_idle_session: resident memory per idle TLS session, 10,000
// sessions by default, the server in a child process (this program run again
// with --memory-server) so the load generator's memory is not counted.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench_util.hpp"
#include "net/child_process.hpp"
#include "net/load.hpp"
#include "net/rss.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {

using namespace std::chrono_literals;

// The child's side: a Starhold server over TLS. Prints "port N", then answers
// each "rss" line on stdin with "rss VMRSS_KIB RSSANON_KIB SESSIONS"; stops at
// "quit" or end of input.
int memory_server(const std::string& dir, std::size_t sessions) {
  raise_fd_limit();
  LogTap tap;
  auto o = net_options(dir + "/store", tap);
  o.tcp_port = -1;
  o.tls_port = 0;
  o.tls_certificate = dir + "/cert.pem";
  o.tls_private_key = dir + "/key.pem";
  o.max_connections = sessions + 100;
  o.max_message_rate = 1000;  // idle clients: the default
  starhold::write_development_certificate(o.tls_certificate, o.tls_private_key);
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  std::printf("port %u\n", server.port(starhold::Server::Listener::tls));
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    if (line != "rss") continue;
    const Rss r = own_rss();
    const auto m = server.metrics();
    std::printf("rss %ld %ld %llu\n", r.vm_rss_kib, r.rss_anon_kib,
                static_cast<unsigned long long>(m.sessions_active));
    std::fflush(stdout);
  }
  return 0;
}

void memory(const Args& args) {
  const std::size_t n = args.memory_sessions;
  bench::ScratchDir dir(args.dir, "net-memory");
  Child child({this_program(), "--memory-server", dir.path(), std::to_string(n)});
  const std::string port_line = child.read_line(60s);
  const auto port = static_cast<std::uint16_t>(std::stoul(port_line.substr(5)));
  std::this_thread::sleep_for(1s);
  const ChildRss before = ask_rss(child);

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // the client's work is not what we measure
  LoadThread t;
  Link<TlsSocket>::Options o;
  o.port = port;
  o.read_chunk = 1024;
  auto wave = log_in_all<TlsSocket>(t, n, "idle", o, 64, Clock::now() + 240s,
                                    [&](asio::io_context& io, const Link<TlsSocket>::Options& lo) {
                                      return std::make_shared<Link<TlsSocket>>(io, lo, ctx);
                                    });
  std::this_thread::sleep_for(3s);  // let the logins' commits and buffers settle
  const ChildRss after = ask_rss(child);
  std::string problem;
  const std::size_t closed = count_closed<TlsSocket>(t, wave.links, problem);
  if (problem.empty()) problem = wave.first_failure;
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  const double sessions = static_cast<double>(std::max<std::size_t>(wave.ok, 1));
  bench::report(
      "memory_tls_idle_session",
      static_cast<double>(after.rss.vm_rss_kib - before.rss.vm_rss_kib) / sessions, "KiB/session",
      static_cast<double>(before.rss.vm_rss_kib),
      fmt::format(
          R"("transport":"tls","sessions_attempted":{},"logged_in":{},"server_sessions":{},)"
          R"("links_closed":{},"login_s":{:.1f},"rss_before_kib":{},"rss_after_kib":{},)"
          R"("anon_kib_per_session":{:.2f},"baseline_is":"server VmRSS before, KiB")",
          n, wave.ok, after.sessions, closed, wave.seconds, before.rss.vm_rss_kib,
          after.rss.vm_rss_kib,
          static_cast<double>(after.rss.rss_anon_kib - before.rss.rss_anon_kib) / sessions));
  close_all<TlsSocket>(t, wave.links);
  t.finish();
  child.send_line("quit");
}

}  // namespace netbench
