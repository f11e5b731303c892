// The games the network benchmark's servers run (echo, bank, counters, fan-out), and
// the options and log tap every such server starts with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.hpp"
#include "starhold/starhold.hpp"

namespace netbench {

// ---- Worlds ------------------------------------------------------------------------

// Each session's listener sends every message back (examples/echo/echo_server.cpp).
struct EchoWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session) override;
};

using bench::Account;

constexpr std::size_t kAccounts = 100000;
constexpr std::int64_t kInitialBalance = 1000;

// The accounts' ids, filled before the server takes connections and only
// read afterwards. A benchmark shortcut: a game would bind names or keep an
// index in the store; here process memory stands in for that read-only index.
extern std::vector<starhold::ObjectId> g_accounts;

// Each session's listener takes "from,to,amount,requestid" (indices into
// g_accounts), moves amount, and replies "requestid,ok" (or ",no" when the
// balance is short). The reply leaves once the commit is durable.
struct BankWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session) override;
};

// Each session gets a counter object at login, bound to the name
// counter_name(session name). Each message's task adds one to the counter and
// replies with the new count (in decimal); the reply leaves once the commit is
// durable.
struct CounterWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session s) override;
};

// The name CounterWorld binds a session's counter to.
std::string counter_name(std::string_view session_name);

// The count of the counter bound to counter_name(session_name), or nullopt
// if none is bound.
std::optional<std::uint64_t> read_counter(starhold::Transaction& tx, std::string_view session_name);

// One channel, "fanout"; sessions named member* join it at login. Every
// session message becomes a message on that channel.
struct FanoutWorld final : starhold::AppListener {
  void initialize(starhold::Transaction& tx) override;
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session s) override;
};

// ---- Server setup and what it reports -----------------------------------------------

// Counts the server's warnings and errors and shows the first few on stderr.
struct LogTap {
  std::mutex mu;
  std::uint64_t lines = 0;  // guarded by mu
  // A sink for ServerOptions::log; the tap must outlive the server.
  starhold::LogSink sink();
  std::uint64_t count();
};

// A server on store with a TCP port the system picks, sign-up on first login,
// heartbeats every 60 s (idle members and waiting clients are not timed out),
// no per-client message rate limit, and warnings to tap.
starhold::ServerOptions net_options(const std::string& store, LogTap& tap);

// Extra JSON fields: server-side disconnects by reason during the run, the
// count of warning lines, and the tasks committed and failed (from the end of
// the logins to the end of the drain, warm-up included).
std::string server_notes(const starhold::Metrics& before, const starhold::Metrics& after,
                         LogTap& tap);

}  // namespace netbench
