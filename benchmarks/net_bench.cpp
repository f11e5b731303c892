// Starhold on the network under load. Each result line is JSON, as in
// core_bench; where a baseline applies it is measured in the same run.
//
//   net_bench [--dir DIR] [--seconds N] [--only PREFIX] [--memory-sessions N]
//             [--restart-players N] [--soak-seconds N] [--soak-warmup-seconds N]
//
// Workloads (clients on 127.0.0.1, one load-generator thread on the same cores):
//   echo_tcp_{100,1000}      N clients, one message in flight each; every echo is
//                            a committed task; baseline: a raw Asio echo server
//                            speaking the same framing
//   echo_ws_{100,1000}       the same over plain WebSocket (binary messages);
//                            baseline: a raw Beast WebSocket echo server
//   echo_tls_100             the same over TLS; baseline: a raw Asio TLS echo
//                            server (asio::ssl::stream)
//   transfers_net_*          bank transfers between 100,000 accounts sent by 64
//                            clients, 4 pipelined each; a reply leaves once its
//                            commit is durable; uniform and Zipf(1.5) picks
//   durable_1000             1,000 clients, one message in flight each; each
//                            message's task updates one object (the session's
//                            counter, made at login) and replies once the
//                            commit is durable; the counters, read back in
//                            tasks, must add up to the replies received
//   fanout_1000              one session publishes on a channel of 1,000
//                            members; server CPU per delivery
//   fanout_1000_4senders     the same with 4 publishing sessions
//   fairness_flood           100 well-behaved echo clients (one message in
//                            flight each) alone, then while one more client
//                            keeps 1,000 in flight: their p50/p99 in both
//                            phases, the flooder's throughput, the p99 ratio
//   memory_tls_idle_session  resident memory per idle TLS session, 10,000
//                            sessions, the server in a child process
//   restart_resume_10000     10,000 players back after the server's SIGKILL
//                            and restart, with resume tokens; baseline: with
//                            their passwords (slow: scrypt at the real cost;
//                            runs only with --only restart)
//   soak_memory_10000        10,000 TLS sessions, one message a second each, for
//                            minutes: the server's RSS slope in KiB/min (must
//                            stay under a stated bound; runs only with --only soak)
//
// Every server here turns off the per-client message rate limit
// (max_message_rate = 0): one load-generator client stands for many players.
//
// The workloads live in net/ (one file each), beside the load generator
// (net/load.hpp), the worlds the servers run (net/worlds.hpp) and the raw
// baseline (net/raw_echo_server.hpp: Asio over TCP and TLS, Beast over
// WebSocket). This file reads the command line and runs the workloads it names.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "net/load.hpp"
#include "net/workloads.hpp"

namespace {

using netbench::Args;

Args parse(int argc, char** argv) {
  Args a;
  bench::parse_options(argc, argv, a, [&](std::string_view flag, const std::string& value) {
    if (flag == "--memory-sessions") {
      a.memory_sessions = static_cast<std::size_t>(std::stoul(value));
      return true;
    }
    if (flag == "--restart-players") {
      a.restart_players = static_cast<std::size_t>(std::stoul(value));
      return true;
    }
    if (flag == "--soak-seconds") {
      a.soak = std::chrono::seconds(std::stol(value));
      return true;
    }
    if (flag == "--soak-warmup-seconds") {
      a.soak_warmup = std::chrono::seconds(std::stol(value));
      return true;
    }
    return false;
  });
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc == 4 && std::string_view(argv[1]) == "--memory-server") {
    return netbench::memory_server(argv[2], static_cast<std::size_t>(std::stoul(argv[3])));
  }
  if (argc == 3 && std::string_view(argv[1]) == "--memory-raw-server") {
    return netbench::memory_raw_server(argv[2]);
  }
  if (argc == 4 && std::string_view(argv[1]) == "--restart-server") {
    return netbench::restart_server(argv[2], static_cast<std::size_t>(std::stoul(argv[3])));
  }
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr,
               "{}\nusage: net_bench [--dir DIR] [--seconds N] [--only PREFIX] "
               "[--memory-sessions N] [--restart-players N] [--soak-seconds N] "
               "[--soak-warmup-seconds N]\n",
               e.what());
    return 2;
  }
  const auto files = netbench::raise_fd_limit();
  fmt::print(stderr,
             "net_bench: {} cores, {} s per workload, open-file limit {}, stores under {}\n",
             std::thread::hardware_concurrency(), args.measure.count() / 1000.0, files, args.dir);
  auto want = [&](std::string_view name) { return args.wants(name); };
  try {
    if (want("echo_tcp_100")) netbench::echo_tcp(args, 100);
    if (want("echo_tcp_1000")) netbench::echo_tcp(args, 1000);
    if (want("echo_ws_100")) netbench::echo_ws(args, 100);
    if (want("echo_ws_1000")) netbench::echo_ws(args, 1000);
    if (want("echo_tls")) netbench::echo_tls(args, 100);
    if (want("transfers")) {
      netbench::transfers(args, "transfers_net_uniform", false);
      netbench::transfers(args, "transfers_net_zipf1.5", true);
    }
    if (want("durable_1000")) netbench::durable(args, 1000);
    if (want("fanout_1000")) netbench::fanout(args, 1000, 1);
    if (want("fanout_1000_4senders")) netbench::fanout(args, 1000, 4);
    if (want("fairness_flood")) netbench::fairness_flood(args, 100);
    if (want("memory")) netbench::memory(args);
    // Minutes long (every player hashes its password twice): only when asked for.
    if (!args.only.empty() && want("restart")) netbench::restart(args);
    if (!args.only.empty() && want("soak")) netbench::soak(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "net_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
