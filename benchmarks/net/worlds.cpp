#include "net/worlds.hpp"

#include <charconv>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

namespace netbench {

using namespace std::chrono_literals;

std::vector<starhold::ObjectId> g_accounts;

namespace {

// Sends every message back (examples/echo/echo_server.cpp).
struct Echo final : starhold::Managed<Echo, starhold::SessionListener> {
  static constexpr std::string_view type_name = "netbench.Echo";
  template <class F>
  void fields(F&) {}
  void received(starhold::Transaction& tx, starhold::Session s, std::string_view m) override {
    s.send(tx, m);
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// "from,to,amount,requestid" -> moves amount, replies "requestid,ok" (or ",no"
// when the balance is short). The reply leaves once the commit is durable.
struct Bank final : starhold::Managed<Bank, starhold::SessionListener> {
  static constexpr std::string_view type_name = "netbench.Bank";
  template <class F>
  void fields(F&) {}
  void received(starhold::Transaction& tx, starhold::Session s, std::string_view m) override {
    std::uint64_t f[4] = {};
    const char* p = m.data();
    const char* end = m.data() + m.size();
    for (int i = 0; i < 4; ++i) {
      auto [next, ec] = std::from_chars(p, end, f[i]);
      if (ec != std::errc() || (i < 3 && (next == end || *next != ','))) {
        throw std::invalid_argument("malformed transfer request");
      }
      p = next + 1;
    }
    auto& src = tx.get(starhold::Ref<Account>(g_accounts.at(f[0])));
    auto& dst = tx.get(starhold::Ref<Account>(g_accounts.at(f[1])));
    const auto amount = static_cast<std::int64_t>(f[2]);
    const bool ok = src.balance >= amount;
    if (ok) {
      src.balance -= amount;
      dst.balance += amount;
    }
    s.send(tx, fmt::format("{},{}", f[3], ok ? "ok" : "no"));
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// A session's counter (CounterWorld).
struct Counter final : starhold::Managed<Counter> {
  static constexpr std::string_view type_name = "netbench.Counter";
  std::uint64_t count = 0;
  template <class F>
  void fields(F& f) {
    f(1, count);
  }
};

// Adds one to the session's counter per message and replies with the count.
struct Tally final : starhold::Managed<Tally, starhold::SessionListener> {
  static constexpr std::string_view type_name = "netbench.Tally";
  starhold::Ref<Counter> counter;
  template <class F>
  void fields(F& f) {
    f(1, counter);
  }
  void received(starhold::Transaction& tx, starhold::Session s, std::string_view) override {
    auto& c = tx.get(counter);
    ++c.count;
    s.send(tx, std::to_string(c.count));
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// Every session message becomes a message on the session's channel.
struct Relay final : starhold::Managed<Relay, starhold::SessionListener> {
  static constexpr std::string_view type_name = "netbench.Relay";
  starhold::Channel channel;
  template <class F>
  void fields(F& f) {
    f(1, channel);
  }
  void received(starhold::Transaction& tx, starhold::Session, std::string_view m) override {
    channel.send(tx, m);
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// Protocol reason codes by number (docs/protocol.md); 0: a network error or close.
// clang-format off
constexpr const char* kReasonNames[] = {
    "network", "protocol_version", "malformed_frame", "frame_too_large", "unknown_opcode",
    "not_logged_in", "bad_credentials", "too_many_attempts", "flood", "slow_reader",
    "heartbeat_timeout", "server_full", "duplicate_login", "kicked", "shutdown", "logged_out",
    "already_logged_in", "refused", "invalid_token", "session_expired", "handshake_timeout",
    "internal_error", "server_busy", "replay_overflow", "resumed_elsewhere"};
// clang-format on

}  // namespace

starhold::LoginResult EchoWorld::logged_in(starhold::Transaction& tx, starhold::Session) {
  return starhold::LoginResult::accept(tx.create<Echo>());
}

starhold::LoginResult BankWorld::logged_in(starhold::Transaction& tx, starhold::Session) {
  return starhold::LoginResult::accept(tx.create<Bank>());
}

starhold::LoginResult CounterWorld::logged_in(starhold::Transaction& tx, starhold::Session s) {
  auto& counter = tx.create<Counter>();
  tx.bind(counter_name(s.name(tx)), counter);
  auto& tally = tx.create<Tally>();
  tally.counter = counter;
  return starhold::LoginResult::accept(tally);
}

std::string counter_name(std::string_view session_name) {
  return fmt::format("netbench.counter/{}", session_name);
}

std::optional<std::uint64_t> read_counter(starhold::Transaction& tx,
                                          std::string_view session_name) {
  const Counter* c = tx.find<Counter>(counter_name(session_name));
  if (c == nullptr) return std::nullopt;
  return c->count;
}

void FanoutWorld::initialize(starhold::Transaction& tx) {
  starhold::Channel::create(tx, "fanout");
}

starhold::LoginResult FanoutWorld::logged_in(starhold::Transaction& tx, starhold::Session s) {
  auto& relay = tx.create<Relay>();
  relay.channel = starhold::Channel::find(tx, "fanout");
  if (s.name(tx).rfind("member", 0) == 0) relay.channel.join(tx, s);
  return starhold::LoginResult::accept(relay);
}

starhold::LogSink LogTap::sink() {
  return [this](starhold::LogLevel, std::string_view line) {
    std::lock_guard lock(mu);
    if (++lines <= 5) fmt::print(stderr, "  server: {}\n", line);
  };
}

std::uint64_t LogTap::count() {
  std::lock_guard lock(mu);
  return lines;
}

starhold::ServerOptions net_options(const std::string& store, LogTap& tap) {
  starhold::ServerOptions o;
  o.store_path = store;
  o.tcp_port = 0;
  o.signup_on_first_login = true;
  // Logins are not what these workloads measure, and every client shares
  // 127.0.0.1: cheap hashes, no per-address limit on logins in flight, and
  // a hashing queue that takes a whole wave of logins.
  o.password_hash_cost = 8;
  o.password_hash_parallelism = 1;
  o.max_failed_logins = 1 << 20;
  o.password_hash_queue = 1 << 20;
  o.heartbeat_interval = 60s;  // idle members and waiting clients are not timed out
  o.max_message_rate = 0;
  o.log_level = starhold::LogLevel::warn;
  o.log = tap.sink();
  return o;
}

std::string server_notes(const starhold::Metrics& before, const starhold::Metrics& after,
                         LogTap& tap) {
  std::string d;
  for (std::size_t i = 0; i < after.disconnects.size(); ++i) {
    const auto n = after.disconnects[i] - before.disconnects[i];
    if (n == 0) continue;
    d += fmt::format(R"({}"{}":{})", d.empty() ? "" : ",",
                     i < std::size(kReasonNames) ? kReasonNames[i] : std::to_string(i), n);
  }
  return fmt::format(
      R"("server_disconnects":{{{}}},"server_warnings":{},"tasks_committed":{},"tasks_failed":{})",
      d, tap.count(), after.tasks_committed - before.tasks_committed,
      after.tasks_failed - before.tasks_failed);
}

}  // namespace netbench
