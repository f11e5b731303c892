// memory_tls_idle_session: resident memory per idle TLS session, 10,000
// sessions by default, the server in a child process (this program run again
// with --memory-server) so the load generator's memory is not counted.
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "net/child_process.hpp"
#include "net/load.hpp"
#include "net/raw_echo_server.hpp"
#include "net/rss.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {

using namespace std::chrono_literals;

namespace {

// The raw server's read buffer per connection: one page, not the echo
// baseline's 16 KiB, so that the baseline is not inflated by a buffer an idle
// Starhold session does not keep.
constexpr std::size_t kRawReadChunk = 4096;

// Writes the development certificate (the type Starhold's servers use) into dir.
RawTlsFiles certificate_in(const std::string& dir) {
  RawTlsFiles f{dir + "/cert.pem", dir + "/key.pem"};
  starhold::write_development_certificate(f.certificate, f.private_key);
  return f;
}

// One server's figures: its RSS before and after n idle sessions logged in.
struct IdleRun {
  ChildRss before, after;
  std::size_t logged_in = 0, closed = 0;
  double login_seconds = 0;

  double kib_per_session() const {
    return per_session(after.rss.vm_rss_kib - before.rss.vm_rss_kib);
  }
  double anon_kib_per_session() const {
    return per_session(after.rss.rss_anon_kib - before.rss.rss_anon_kib);
  }

 private:
  double per_session(long kib) const {
    return static_cast<double>(kib) / static_cast<double>(std::max<std::size_t>(logged_in, 1));
  }
};

// Runs server_args as a child (it prints "port N", then answers "rss"), logs n
// idle TLS clients into it and measures its RSS before and after.
IdleRun measure_idle(std::vector<std::string> server_args, std::size_t n) {
  Child child(std::move(server_args));
  const std::string port_line = child.read_line(60s);
  const auto port = static_cast<std::uint16_t>(std::stoul(port_line.substr(5)));
  std::this_thread::sleep_for(1s);
  IdleRun r;
  r.before = ask_rss(child);

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
  r.after = ask_rss(child);
  std::string problem;
  r.closed = count_closed<TlsSocket>(t, wave.links, problem);
  if (problem.empty()) problem = wave.first_failure;
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  r.logged_in = wave.ok;
  r.login_seconds = wave.seconds;
  close_all<TlsSocket>(t, wave.links);
  t.finish();
  child.send_line("quit");
  return r;
}

}  // namespace

// The child's side: a Starhold server over TLS. Prints "port N", then answers
// "rss" (answer_rss) with its active sessions.
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
  answer_rss([&] { return static_cast<unsigned long long>(server.metrics().sessions_active); });
  return 0;
}

// The baseline's side: the raw Asio TLS server. Prints "port N", then answers
// "rss" with the logins it accepted.
int memory_raw_server(const std::string& dir) {
  raise_fd_limit();
  RawEchoServer server(certificate_in(dir), kRawReadChunk);
  std::printf("port %u\n", server.port());
  std::fflush(stdout);
  answer_rss([&] { return static_cast<unsigned long long>(server.logins()); });
  return 0;
}

// The baseline, measured the same way in the same run: a raw Asio TLS server
// (asio::ssl::stream over tcp::socket, one thread, no password check, one read
// pending per connection) run as a child with --memory-raw-server and logged
// into by the same clients. Both figures are the growth of the server's VmRSS
// from before the logins to after them, divided by the sessions logged in.
void memory(const Args& args) {
  const std::size_t n = args.memory_sessions;
  bench::ScratchDir raw_dir(args.dir, "net-memory-raw");
  const IdleRun raw = measure_idle({this_program(), "--memory-raw-server", raw_dir.path()}, n);
  bench::ScratchDir dir(args.dir, "net-memory");
  const IdleRun sh =
      measure_idle({this_program(), "--memory-server", dir.path(), std::to_string(n)}, n);
  bench::report(
      "memory_tls_idle_session", sh.kib_per_session(), "KiB/session", raw.kib_per_session(),
      fmt::format(
          R"("transport":"tls","sessions_attempted":{},"logged_in":{},"server_sessions":{},)"
          R"("links_closed":{},"login_s":{:.1f},"rss_before_kib":{},"rss_after_kib":{},)"
          R"("anon_kib_per_session":{:.2f},"raw_logged_in":{},"raw_server_sessions":{},)"
          R"("raw_links_closed":{},"raw_login_s":{:.1f},"raw_rss_before_kib":{},"raw_rss_after_kib":{},)"
          R"("raw_anon_kib_per_session":{:.2f},"raw_read_buffer_bytes":{},)"
          R"("baseline_is":"raw Asio ssl::stream server, same framing and clients, KiB/session")",
          n, sh.logged_in, sh.after.sessions, sh.closed, sh.login_seconds, sh.before.rss.vm_rss_kib,
          sh.after.rss.vm_rss_kib, sh.anon_kib_per_session(), raw.logged_in, raw.after.sessions,
          raw.closed, raw.login_seconds, raw.before.rss.vm_rss_kib, raw.after.rss.vm_rss_kib,
          raw.anon_kib_per_session(), kRawReadChunk));
}

}  // namespace netbench
