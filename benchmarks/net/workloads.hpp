// The network benchmark's workloads. Each prints its JSON result lines (see
// net_bench.cpp for what each measures) and throws on a setup failure.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "bench_util.hpp"

namespace netbench {

// The command line (net_bench.cpp).
struct Args : bench::RunOptions {
  std::size_t memory_sessions = 10000;
  std::size_t restart_players = 10000;
  std::chrono::seconds soak{180};  // soak: measured time
  // soak: traffic before the first sample, so that the server's per-session
  // buffers and the allocator's high-water mark have settled (soak.cpp)
  std::chrono::seconds soak_warmup{180};
};

// echo_tcp_{n}_raw_asio, then echo_tcp_{n}: n clients against a raw Asio echo
// server, then against Starhold (echo.cpp).
void echo_tcp(const Args& args, std::size_t n);
// echo_ws_{n}_raw_beast, then echo_ws_{n}: the same over plain WebSocket,
// against a raw Beast WebSocket echo server, then Starhold's WebSocket
// listener (echo.cpp).
void echo_ws(const Args& args, std::size_t n);
// echo_tls_{n}_raw_asio, then echo_tls_{n}: the same over TLS, against a raw
// Asio TLS echo server, then Starhold (echo.cpp).
void echo_tls(const Args& args, std::size_t n);
// Bank transfers reported as `name`, accounts picked uniformly or by Zipf(1.5)
// (transfers.cpp).
void transfers(const Args& args, const std::string& name, bool zipf);
// durable_{n}: n clients, one message in flight each; each message durably
// updates the session's counter object before its reply leaves; the counters
// must add up to the replies (durable.cpp).
void durable(const Args& args, std::size_t n);
// fanout_{members}, or fanout_{members}_{publishers}senders: that many
// publishers on a channel of `members` (fanout.cpp).
void fanout(const Args& args, std::size_t members, std::size_t publishers);
// fairness_flood: n well-behaved echo clients alone, then beside one client
// that floods; their p99 in both phases (fairness.cpp).
void fairness_flood(const Args& args, std::size_t n);
// memory_tls_idle_session: runs this program again as the server, and as a
// raw Asio TLS server for the baseline (memory.cpp).
void memory(const Args& args);
// The child's side of memory(), entered by `net_bench --memory-server DIR N`;
// returns the exit code.
int memory_server(const std::string& dir, std::size_t sessions);
// The baseline's child, entered by `net_bench --memory-raw-server DIR`;
// returns the exit code.
int memory_raw_server(const std::string& dir);
// soak_memory_{n}: n TLS sessions with one message a second each for
// args.soak; the server's memory must stay flat (soak.cpp).
void soak(const Args& args);
// restart_resume_{n}: players back after a SIGKILL, with resume tokens against
// passwords; the server runs as a child (restart.cpp).
void restart(const Args& args);
// The child's side of restart(), entered by `net_bench --restart-server DIR N`.
int restart_server(const std::string& dir, std::size_t players);

}  // namespace netbench
