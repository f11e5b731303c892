// Starhold on the network under load. Each result line is JSON, as in
// core_bench; where a baseline applies it is measured in the same run.
//
//   net_bench [--dir DIR] [--seconds N] [--only PREFIX] [--memory-sessions N]
//
// Workloads (clients on 127.0.0.1, one load-generator thread on the same cores):
//   echo_tcp_{100,1000}      N clients, one message in flight each; every echo is
//                            a committed task; baseline: a raw Asio echo server
//                            speaking the same framing
//   echo_tls_100             the same over TLS (no baseline)
//   transfers_net_*          bank transfers between 100,000 accounts sent by 64
//                            clients, 4 pipelined each; a reply leaves once its
//                            commit is durable; uniform and Zipf(1.5) picks
//   fanout_1000              one session publishes on a channel of 1,000 members
//   memory_tls_idle_session  resident memory per idle TLS session, 10,000
//                            sessions, the server in a child process
//
// Every server here turns off the per-client message rate limit
// (max_message_rate = 0): one load-generator client stands for many players.
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <deque>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench_util.hpp"
#include "net_bench_util.hpp"

extern char** environ;

namespace {

using bench::Clock;
using netbench::Link;
using netbench::tcp;
using netbench::TlsSocket;
namespace op = netbench::op;
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Args {
  std::string dir = ".";
  std::chrono::milliseconds measure{5000};
  std::chrono::milliseconds warmup{1000};
  std::string only;
  std::size_t memory_sessions = 10000;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + k);
      return argv[++i];
    };
    if (k == "--dir") {
      a.dir = next();
    } else if (k == "--seconds") {
      a.measure = std::chrono::milliseconds(static_cast<long>(std::stod(next()) * 1000));
      a.warmup = std::min(a.warmup, a.measure / 2);
    } else if (k == "--only") {
      a.only = next();
    } else if (k == "--memory-sessions") {
      a.memory_sessions = static_cast<std::size_t>(std::stoul(next()));
    } else {
      throw std::runtime_error("unknown option " + k);
    }
  }
  return a;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ---- Worlds ------------------------------------------------------------------------

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

struct EchoWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session) override {
    return starhold::LoginResult::accept(tx.create<Echo>());
  }
};

struct Account final : starhold::Managed<Account> {
  static constexpr std::string_view type_name = "netbench.Account";
  std::int64_t balance = 0;
  std::string owner;
  template <class F>
  void fields(F& f) {
    f(1, balance);
    f(2, owner);
  }
};

constexpr std::size_t kAccounts = 100000;
constexpr std::int64_t kInitialBalance = 1000;

// The accounts' ids, filled before the server takes connections and only
// read afterwards. A benchmark shortcut: a game would bind names or keep an
// index in the store; here process memory stands in for that read-only index.
std::vector<starhold::ObjectId> g_accounts;

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

struct BankWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session) override {
    return starhold::LoginResult::accept(tx.create<Bank>());
  }
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

// One channel, "fanout"; sessions named member* join it at login.
struct FanoutWorld final : starhold::AppListener {
  void initialize(starhold::Transaction& tx) override { starhold::Channel::create(tx, "fanout"); }
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session s) override {
    auto& relay = tx.create<Relay>();
    relay.channel = starhold::Channel::find(tx, "fanout");
    if (s.name(tx).rfind("member", 0) == 0) relay.channel.join(tx, s);
    return starhold::LoginResult::accept(relay);
  }
};

// ---- Server setup and what it reports -----------------------------------------------

// Counts the server's warnings and errors and shows the first few on stderr.
struct LogTap {
  std::mutex mu;
  std::uint64_t lines = 0;  // guarded by mu
  starhold::LogSink sink() {
    return [this](starhold::LogLevel, std::string_view line) {
      std::lock_guard lock(mu);
      if (++lines <= 5) fmt::print(stderr, "  server: {}\n", line);
    };
  }
  std::uint64_t count() {
    std::lock_guard lock(mu);
    return lines;
  }
};

starhold::ServerOptions net_options(const std::string& store, LogTap& tap) {
  starhold::ServerOptions o;
  o.store_path = store;
  o.tcp_port = 0;
  o.signup_on_first_login = true;
  o.password_hash_cost = 8;
  o.heartbeat_interval = 60s;  // idle members and waiting clients are not timed out
  o.max_message_rate = 0;
  o.log_level = starhold::LogLevel::warn;
  o.log = tap.sink();
  return o;
}

// Protocol reason codes by number (docs/protocol.md); 0: a network error or close.
// clang-format off
constexpr const char* kReasonNames[] = {
    "network", "protocol_version", "malformed_frame", "frame_too_large", "unknown_opcode",
    "not_logged_in", "bad_credentials", "too_many_attempts", "flood", "slow_reader",
    "heartbeat_timeout", "server_full", "duplicate_login", "kicked", "shutdown", "logged_out",
    "already_logged_in", "refused", "invalid_token", "session_expired", "handshake_timeout",
    "internal_error"};
// clang-format on

// Extra JSON fields: server-side disconnects by reason during the run, the
// count of warning lines, and the tasks committed and failed (from the end of
// the logins to the end of the drain, warm-up included).
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

// ---- Raw Asio echo server (the baseline) ------------------------------------------------

// Speaks the same framing with no tasks and no store: HELLO gets WELCOME,
// LOGIN gets LOGIN_OK, a SESSION_MESSAGE comes straight back. One thread,
// as Starhold's network runs on one.
class RawEchoServer {
 public:
  RawEchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RawEchoServer() {
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(tcp::socket s, std::uint64_t id) : socket_(std::move(s)), id_(id), reader_(16384) {}
    void read() {
      auto self = shared_from_this();
      socket_.async_read_some(reader_.space(), [self](boost::system::error_code ec, std::size_t n) {
        if (ec) return;
        self->reader_.commit(n);
        if (!self->reader_.each([&](std::uint8_t o, std::string_view b) { self->handle(o, b); }))
          return;
        self->read();
      });
    }

   private:
    void handle(std::uint8_t opcode, std::string_view body) {
      std::string reply;
      switch (opcode) {
        case op::hello:
          netbench::put_be(reply, 1, 2);
          netbench::put_be(reply, netbench::kMaxFrame, 4);
          netbench::put_be(reply, 60000, 4);
          return send(op::welcome, reply);
        case op::login:
          netbench::put_be(reply, id_, 8);
          netbench::put_be(reply, 0, 2);  // an empty reconnect token
          netbench::put_be(reply, 0, 4);
          return send(op::login_ok, reply);
        case op::session_message:
          return send(op::session_message, body);
        default:
          return;
      }
    }
    void send(std::uint8_t opcode, std::string_view body) {
      netbench::append_frame(pending_, opcode, body);
      if (writing_) return;
      writing_ = true;
      write();
    }
    void write() {
      out_.swap(pending_);
      pending_.clear();
      auto self = shared_from_this();
      asio::async_write(socket_, asio::buffer(out_), [self](boost::system::error_code ec, auto) {
        self->out_.clear();
        if (ec || self->pending_.empty()) {
          self->writing_ = false;
          return;
        }
        self->write();
      });
    }
    tcp::socket socket_;
    std::uint64_t id_;
    netbench::FrameReader reader_;
    std::string pending_, out_;
    bool writing_ = false;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      boost::system::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Conn>(std::move(s), ++accepted_)->read();
      accept();
    });
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::uint64_t accepted_ = 0;
  std::thread thread_;
};

// ---- Driving clients -----------------------------------------------------------------

template <class Stream>
using LinkPtr = std::shared_ptr<Link<Stream>>;

std::shared_ptr<Link<tcp::socket>> tcp_link(asio::io_context& io,
                                            const Link<tcp::socket>::Options& o) {
  return std::make_shared<Link<tcp::socket>>(io, o);
}

// What a closed-loop run measured, on the load thread.
struct Loop {
  bool measuring = false, stopping = false;
  std::uint64_t done = 0, outstanding = 0;
  bench::Latencies latencies;  // microseconds
};

struct LoopResult {
  double per_second = 0, p50_ms = 0, p99_ms = 0;
  std::uint64_t completed = 0, unanswered = 0;
};

// Warms up, measures, then stops the clients sending and waits (bounded) for
// the answers still due.
LoopResult measure_loop(netbench::LoadThread& t, Loop& loop, const Args& args) {
  std::this_thread::sleep_for(args.warmup);
  auto [c0, t0] = t.call([&] {
    loop.latencies.clear();
    loop.measuring = true;
    return std::pair{loop.done, Clock::now()};
  });
  std::this_thread::sleep_for(args.measure);
  auto [c1, t1] = t.call([&] {
    loop.measuring = false;
    loop.stopping = true;
    return std::pair{loop.done, Clock::now()};
  });
  const auto drain_deadline = Clock::now() + 5s;
  while (t.call([&] { return loop.outstanding; }) > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(10ms);
  LoopResult r;
  r.completed = c1 - c0;
  r.per_second = static_cast<double>(r.completed) / (ms_between(t0, t1) / 1000);
  r.p50_ms = loop.latencies.quantile(0.50) / 1000;
  r.p99_ms = loop.latencies.quantile(0.99) / 1000;
  r.unanswered = t.call([&] { return loop.outstanding; });
  return r;
}

template <class Stream>
std::size_t count_closed(netbench::LoadThread& t, const std::vector<LinkPtr<Stream>>& links,
                         std::string& first_why) {
  return t.call([&] {
    std::size_t n = 0;
    for (const auto& l : links) {
      if (l->logged_in() && l->closed()) {
        if (first_why.empty()) first_why = l->why();
        ++n;
      }
    }
    return n;
  });
}

// ---- Echo ------------------------------------------------------------------------------

constexpr std::size_t kEchoBytes = 64;
constexpr std::uint64_t kMaxRoundTrips = 50'000'000;  // per run, beside the time bound

struct EchoRun {
  LoopResult loop;
  std::size_t clients = 0, logged_in = 0, closed = 0;
  double login_seconds = 0;
  std::string problem;
};

template <class Stream, class MakeLink>
EchoRun run_echo(std::uint16_t port, std::size_t n, const Args& args, MakeLink make_link) {
  Loop loop;
  netbench::LoadThread t;
  typename Link<Stream>::Options o;
  o.port = port;
  auto wave = netbench::log_in_all<Stream>(t, n, "echo", o, 200, Clock::now() + 60s, make_link);
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
        --loop.outstanding;
        ++loop.done;
        if (loop.measuring) loop.latencies.add(ms_between(sent[i], now) * 1000);
        if (loop.stopping || loop.done >= kMaxRoundTrips) return;
        sent[i] = now;
        ++loop.outstanding;
        link->send(op::session_message, message);
      };
      sent[i] = Clock::now();
      ++loop.outstanding;
      link->send(op::session_message, message);
    }
    return 0;
  });
  EchoRun r;
  r.loop = measure_loop(t, loop, args);
  r.clients = n;
  r.logged_in = wave.ok;
  r.login_seconds = wave.seconds;
  r.closed = count_closed<Stream>(t, wave.links, r.problem);
  if (r.problem.empty() && wave.ok < n) r.problem = wave.first_failure;
  netbench::close_all<Stream>(t, wave.links);
  t.finish();  // no handler runs past this point, so the state above may go
  return r;
}

std::string echo_fields(const EchoRun& r, const char* transport) {
  std::string s = fmt::format(
      R"("transport":"{}","clients":{},"logged_in":{},"in_flight_per_client":1,"message_bytes":{},)"
      R"("p50_ms":{:.3f},"p99_ms":{:.3f},"round_trips":{},"unanswered":{},"links_closed":{},)"
      R"("login_s":{:.2f})",
      transport, r.clients, r.logged_in, kEchoBytes, r.loop.p50_ms, r.loop.p99_ms, r.loop.completed,
      r.loop.unanswered, r.closed, r.login_seconds);
  if (!r.problem.empty()) fmt::print(stderr, "  client problem: {}\n", r.problem);
  return s;
}

void echo_tcp(const Args& args, std::size_t n) {
  EchoRun raw;
  {
    RawEchoServer server;
    raw = run_echo<tcp::socket>(server.port(), n, args, tcp_link);
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
      run_echo<tcp::socket>(server.port(starhold::Server::Listener::tcp), n, args, tcp_link);
  const auto after = server.metrics();
  bench::report(fmt::format("echo_tcp_{}", n), r.loop.per_second, "round_trips/s",
                raw.loop.per_second,
                echo_fields(r, "tcp") +
                    fmt::format(R"(,"raw_p50_ms":{:.3f},"raw_p99_ms":{:.3f},)", raw.loop.p50_ms,
                                raw.loop.p99_ms) +
                    server_notes(before, after, tap));
}

void echo_tls(const Args& args, std::size_t n) {
  bench::ScratchDir dir(args.dir, "net-echo-tls");
  LogTap tap;
  auto o = net_options(dir.path() + "/store", tap);
  o.tcp_port = -1;
  o.tls_port = 0;
  o.tls_certificate = dir.path() + "/cert.pem";
  o.tls_private_key = dir.path() + "/key.pem";
  starhold::write_development_certificate(o.tls_certificate, o.tls_private_key);
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(o.tls_certificate);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  const auto before = server.metrics();
  const EchoRun r =
      run_echo<TlsSocket>(server.port(starhold::Server::Listener::tls), n, args,
                          [&](asio::io_context& io, const Link<TlsSocket>::Options& lo) {
                            return std::make_shared<Link<TlsSocket>>(io, lo, ctx);
                          });
  const auto after = server.metrics();
  bench::report(fmt::format("echo_tls_{}", n), r.loop.per_second, "round_trips/s", std::nullopt,
                echo_fields(r, "tls") + "," + server_notes(before, after, tap));
}

// ---- Transfers over the network -----------------------------------------------------------

constexpr std::size_t kTransferClients = 64;
constexpr std::size_t kTransferWindow = 4;  // pipelined requests per client

void transfers(const Args& args, const std::string& name, bool zipf) {
  bench::ScratchDir dir(args.dir, "net-transfers");
  LogTap tap;
  starhold::Server server(net_options(dir.path(), tap));
  server.set_app_listener(std::make_shared<BankWorld>());
  server.start();
  g_accounts.assign(kAccounts, {});
  for (std::size_t start = 0; start < kAccounts; start += 1000) {
    server
        .submit("populate",
                [start](starhold::Transaction& tx) {
                  for (std::size_t i = start; i < std::min(kAccounts, start + 1000); ++i) {
                    auto& a = tx.create<Account>();
                    a.balance = kInitialBalance;
                    a.owner = fmt::format("account-{:08}", i);
                    g_accounts[i] = a.id();
                  }
                })
        .get();
  }

  Loop loop;
  netbench::LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  auto wave = netbench::log_in_all<tcp::socket>(t, kTransferClients, "teller", o, 64,
                                                Clock::now() + 60s, tcp_link);
  const bench::Zipf zipf_dist(kAccounts, 1.5);
  std::mt19937_64 rng(42);
  auto pick = [&]() -> std::size_t { return zipf ? zipf_dist(rng) : rng() % kAccounts; };
  struct Pending {
    std::uint64_t id;
    Clock::time_point sent;
  };
  std::vector<std::deque<Pending>> pending(wave.links.size());
  std::uint64_t next_id = 0, declined = 0, mismatched = 0;
  auto send_one = [&](std::size_t i) {
    const std::size_t from = pick();
    std::size_t to = pick();
    for (int tries = 0; to == from && tries < 100; ++tries)
      to = pick();
    if (to == from) to = (from + 1) % kAccounts;
    const auto amount = rng() % 10 + 1;
    pending[i].push_back({++next_id, Clock::now()});
    ++loop.outstanding;
    wave.links[i]->send(op::session_message, fmt::format("{},{},{},{}", from, to, amount, next_id));
  };
  const auto before = server.metrics();
  t.call([&] {
    for (std::size_t i = 0; i < wave.links.size(); ++i) {
      Link<tcp::socket>* link = wave.links[i].get();
      if (!link->logged_in()) continue;
      link->on_frame = [&, i](std::uint8_t opcode, std::string_view body) {
        if (opcode != op::session_message || pending[i].empty()) return;
        const auto now = Clock::now();
        const Pending p = pending[i].front();
        pending[i].pop_front();
        std::uint64_t id = 0;
        std::from_chars(body.data(), body.data() + body.size(), id);
        if (id != p.id) ++mismatched;
        if (body.size() >= 2 && body.substr(body.size() - 2) == "no") ++declined;
        --loop.outstanding;
        ++loop.done;
        if (loop.measuring) loop.latencies.add(ms_between(p.sent, now) * 1000);
        if (!loop.stopping && loop.done < kMaxRoundTrips) send_one(i);
      };
      for (std::size_t k = 0; k < kTransferWindow; ++k)
        send_one(i);
    }
    return 0;
  });
  const LoopResult r = measure_loop(t, loop, args);
  std::string problem;
  const std::size_t closed = count_closed<tcp::socket>(t, wave.links, problem);
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  netbench::close_all<tcp::socket>(t, wave.links);
  t.finish();
  const auto after = server.metrics();

  std::int64_t total = 0;
  for (std::size_t start = 0; start < kAccounts; start += 5000) {
    server
        .submit("audit",
                [&, start](starhold::Transaction& tx) {
                  std::int64_t sum = 0;
                  for (std::size_t i = start; i < std::min(kAccounts, start + 5000); ++i)
                    sum += tx.get(starhold::Ref<Account>(g_accounts[i])).balance;
                  total += sum;
                })
        .get();
  }
  const double attempts = static_cast<double>(after.attempts_started - before.attempts_started);
  const double aborted =
      attempts > 0 ? static_cast<double>(after.aborts_conflict - before.aborts_conflict) / attempts
                   : 0;
  const double batches = static_cast<double>(after.store_batches - before.store_batches);
  bench::report(
      name, r.per_second, "transfers/s", std::nullopt,
      fmt::format(
          R"("transport":"tcp","durable":true,"clients":{},"logged_in":{},"in_flight_per_client":{},)"
          R"("p50_ms":{:.3f},"p99_ms":{:.3f},"total_ok":{},"declined":{},"reply_mismatches":{},)"
          R"("aborted_fraction":{:.4f},"avg_batch":{:.0f},"unanswered":{},"links_closed":{},)",
          kTransferClients, wave.ok, kTransferWindow, r.p50_ms, r.p99_ms,
          total == static_cast<std::int64_t>(kAccounts) * kInitialBalance ? "true" : "false",
          declined, mismatched, aborted,
          batches > 0
              ? static_cast<double>(after.tasks_committed - before.tasks_committed) / batches
              : 0.0,
          r.unanswered, closed) +
          server_notes(before, after, tap));
}

// ---- Fan-out --------------------------------------------------------------------------------

constexpr std::size_t kFanoutBytes = 64;
// Publishes allowed ahead of what the members received, on average.
constexpr std::uint64_t kFanoutWindow = 1000;
constexpr std::uint64_t kFanoutAckEvery = 1024;
constexpr std::uint64_t kMaxPublishes = 10'000'000;

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

  netbench::LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  o.ack_every = kFanoutAckEvery;
  auto wave = netbench::log_in_all<tcp::socket>(
      t, members, "member", o, 200, Clock::now() + 60s,
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
  auto pub =
      netbench::log_in_all<tcp::socket>(t, 1, "publisher", o, 1, Clock::now() + 30s, tcp_link);
  const std::size_t joined = t.call([&] { return f.joined; });
  if (pub.ok != 1 || joined == 0) {
    fmt::print(stderr, "fanout: the publisher could not log in or no member joined ({})\n",
               pub.first_failure);
    netbench::close_all<tcp::socket>(t, wave.links);
    netbench::close_all<tcp::socket>(t, pub.links);
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
  netbench::close_all<tcp::socket>(t, wave.links);
  netbench::close_all<tcp::socket>(t, pub.links);
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

// ---- Memory per idle TLS session ---------------------------------------------------------

struct Rss {
  long vm_rss_kib = 0, rss_anon_kib = 0;
};

Rss own_rss() {
  std::ifstream in("/proc/self/status");
  Rss r;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) r.vm_rss_kib = std::stol(line.substr(6));
    if (line.rfind("RssAnon:", 0) == 0) r.rss_anon_kib = std::stol(line.substr(8));
  }
  return r;
}

// The child's side: a Starhold server over TLS. Prints "port N", then answers
// each "rss" line on stdin with "rss VMRSS_KIB RSSANON_KIB SESSIONS"; stops at
// "quit" or end of input.
int memory_server(const std::string& dir, std::size_t sessions) {
  netbench::raise_fd_limit();
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

// This program run again as a child, talking over its stdin and stdout.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
  }
  ~Child() {
    ::close(to_);  // end of input: the child stops its server and exits
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    if (pid_ != 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    ::close(from_);
  }

  void send_line(const std::string& s) {
    const std::string line = s + "\n";
    if (write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("cannot write to the server process");
  }
  // The next line from the child; throws after timeout.
  std::string read_line(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{from_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
        throw std::runtime_error("the server process did not answer in time");
      char chunk[512];
      const ssize_t n = read(from_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("the server process ended");
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t pid_ = 0;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

struct ChildRss {
  Rss rss;
  unsigned long long sessions = 0;
};

ChildRss ask_rss(Child& child) {
  child.send_line("rss");
  const std::string line = child.read_line(30s);
  ChildRss r;
  if (std::sscanf(line.c_str(), "rss %ld %ld %llu", &r.rss.vm_rss_kib, &r.rss.rss_anon_kib,
                  &r.sessions) != 3)
    throw std::runtime_error("unexpected answer from the server process: " + line);
  return r;
}

void memory(const Args& args) {
  const std::size_t n = args.memory_sessions;
  bench::ScratchDir dir(args.dir, "net-memory");
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) throw std::runtime_error("cannot find this program's path");
  self[len] = '\0';
  Child child({self, "--memory-server", dir.path(), std::to_string(n)});
  const std::string port_line = child.read_line(60s);
  const auto port = static_cast<std::uint16_t>(std::stoul(port_line.substr(5)));
  std::this_thread::sleep_for(1s);
  const ChildRss before = ask_rss(child);

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // the client's work is not what we measure
  netbench::LoadThread t;
  Link<TlsSocket>::Options o;
  o.port = port;
  o.read_chunk = 1024;
  auto wave = netbench::log_in_all<TlsSocket>(
      t, n, "idle", o, 64, Clock::now() + 240s,
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
  netbench::close_all<TlsSocket>(t, wave.links);
  t.finish();
  child.send_line("quit");
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc == 4 && std::string_view(argv[1]) == "--memory-server") {
    return memory_server(argv[2], static_cast<std::size_t>(std::stoul(argv[3])));
  }
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr,
               "{}\nusage: net_bench [--dir DIR] [--seconds N] [--only PREFIX] "
               "[--memory-sessions N]\n",
               e.what());
    return 2;
  }
  const auto files = netbench::raise_fd_limit();
  fmt::print(stderr,
             "net_bench: {} cores, {} s per workload, open-file limit {}, stores under {}\n",
             std::thread::hardware_concurrency(), args.measure.count() / 1000.0, files, args.dir);
  auto want = [&](std::string_view name) { return name.rfind(args.only, 0) == 0; };
  try {
    if (want("echo_tcp_100")) echo_tcp(args, 100);
    if (want("echo_tcp_1000")) echo_tcp(args, 1000);
    if (want("echo_tls")) echo_tls(args, 100);
    if (want("transfers")) {
      transfers(args, "transfers_net_uniform", false);
      transfers(args, "transfers_net_zipf1.5", true);
    }
    if (want("fanout")) fanout(args, 1000);
    if (want("memory")) memory(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "net_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
