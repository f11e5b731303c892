// restart_resume_{n}: n players log in (each signing up with a password),
// the server (this program run again with --restart-server, so it can be
// killed) gets SIGKILL and starts again on the same store, and every player
// comes back with the resume token of its last LOGIN_OK. Measured: from the
// new server's spawn until the last player is playing again (logged in and
// one message answered). Baseline, in the same run: another SIGKILL and
// restart, the players coming back with their passwords (scrypt at the
// server's default cost).
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "bench_util.hpp"
#include "net/child_process.hpp"
#include "net/load.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kConcurrentLogins = 1000;

// A server process on dir's store; port is where it listens.
struct ServerProcess {
  ServerProcess(const std::string& dir, std::size_t players)
      : child({this_program(), "--restart-server", dir, std::to_string(players)}) {
    const std::string line = child.read_line(3600s);
    if (line.rfind("port ", 0) != 0) throw std::runtime_error("server process said: " + line);
    port = static_cast<std::uint16_t>(std::stoul(line.substr(5)));
  }
  Child child;
  std::uint16_t port = 0;
};

// Sends one message on every logged-in link and waits for every echo.
// Returns how many were answered before the deadline.
std::size_t play_all(LoadThread& t, std::vector<LinkPtr<tcp::socket>>& links,
                     Clock::time_point deadline) {
  struct State {
    std::size_t waiting = 0, answered = 0;
    std::vector<bool> seen;
    std::promise<void> done;
  };
  auto st = std::make_shared<State>();
  st->seen.assign(links.size(), false);
  auto all = st->done.get_future();
  t.call([&] {
    for (std::size_t i = 0; i < links.size(); ++i) {
      if (!links[i]->logged_in() || links[i]->closed()) continue;
      ++st->waiting;
      links[i]->on_frame = [st, i](std::uint8_t opcode, std::string_view) {
        if (opcode != op::session_message || st->seen[i]) return;
        st->seen[i] = true;
        if (++st->answered == st->waiting) st->done.set_value();
      };
      links[i]->send(op::session_message, "playing");
    }
    if (st->waiting == 0) st->done.set_value();
    return 0;
  });
  all.wait_until(deadline);
  return t.call([&] { return st->answered; });
}

struct Return {
  double listening_s = 0, playing_s = 0;
  std::size_t logged_in = 0, playing = 0;
  std::string problem;
};

// Kills the server, starts it again, and brings every player back: with its
// resume token when tokens is not empty, else with its password.
Return kill_and_return(std::unique_ptr<ServerProcess>& server, const std::string& dir,
                       std::size_t n, LoadThread& t, std::vector<LinkPtr<tcp::socket>>& links,
                       const std::map<std::string, std::string>& tokens) {
  server->child.kill_hard();
  close_all<tcp::socket>(t, links);
  const auto t0 = Clock::now();
  server = std::make_unique<ServerProcess>(dir, n);
  Return r;
  r.listening_s = std::chrono::duration<double>(Clock::now() - t0).count();
  Link<tcp::socket>::Options o;
  o.port = server->port;
  o.ack_every = 0;
  auto wave = log_in_all<tcp::socket>(
      t, n, "player", o, kConcurrentLogins, Clock::now() + 3600s,
      [&tokens](asio::io_context& io, const Link<tcp::socket>::Options& lo) {
        auto with = lo;
        if (!tokens.empty()) with.resume_token = tokens.at(lo.name);
        return tcp_link(io, with);
      });
  links = std::move(wave.links);
  r.logged_in = wave.ok;
  r.playing = play_all(t, links, Clock::now() + 600s);
  r.playing_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.problem = wave.first_failure;
  return r;
}

}  // namespace

int restart_server(const std::string& dir, std::size_t players) {
  raise_fd_limit();
  LogTap tap;
  auto o = net_options(dir + "/store", tap);
  o.password_hash_cost = starhold::ServerOptions{}.password_hash_cost;  // the real cost
  o.max_connections = players + 100;
  o.reconnect_rate = 0;  // every player comes from 127.0.0.1
  // A player waiting for its password's turn at the hashing threads is not
  // timed out: the measure is when the last one is back.
  o.handshake_timeout = std::chrono::hours(1);
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  std::printf("port %u\n", server.port(starhold::Server::Listener::tcp));
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
  }
  return 0;
}

void restart(const Args& args) {
  const std::size_t n = args.restart_players;
  bench::ScratchDir dir(args.dir, "net-restart");
  auto server = std::make_unique<ServerProcess>(dir.path(), n);
  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server->port;
  o.ack_every = 0;
  auto first =
      log_in_all<tcp::socket>(t, n, "player", o, kConcurrentLogins, Clock::now() + 3600s, tcp_link);
  if (first.ok != n) {
    throw std::runtime_error(
        fmt::format("only {} of {} players signed up: {}", first.ok, n, first.first_failure));
  }
  std::map<std::string, std::string> tokens;
  t.call([&] {
    for (std::size_t i = 0; i < n; ++i)
      tokens["player" + std::to_string(i)] = first.links[i]->resume_token();
    return 0;
  });
  auto links = std::move(first.links);
  const Return resumed = kill_and_return(server, dir.path(), n, t, links, tokens);
  const Return passwords = kill_and_return(server, dir.path(), n, t, links, {});
  close_all<tcp::socket>(t, links);
  t.finish();
  for (const auto* r : {&resumed, &passwords}) {
    if (!r->problem.empty()) fmt::print(stderr, "  client problem: {}\n", r->problem);
  }
  bench::report(fmt::format("restart_resume_{}", n), resumed.playing_s, "s", passwords.playing_s,
                fmt::format(R"("players":{},"signup_s":{:.1f},"hash_cost":{},)"
                            R"("resume":{{"listening_s":{:.2f},"logged_in":{},"playing":{}}},)"
                            R"("password":{{"listening_s":{:.2f},"logged_in":{},"playing":{}}},)"
                            R"("baseline_is":"the same return with passwords, s")",
                            n, first.seconds, starhold::ServerOptions{}.password_hash_cost,
                            resumed.listening_s, resumed.logged_in, resumed.playing,
                            passwords.listening_s, passwords.logged_in, passwords.playing));
  if (resumed.playing != n || passwords.playing != n) {
    throw std::runtime_error("not every player came back (see the report)");
  }
}

}  // namespace netbench
