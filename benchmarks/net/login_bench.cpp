// Login storms: N clients log in at the same moment with passwords, as when
// a popular server opens or every player comes back at once.
//
//   login_bench [--dir DIR] [--clients N] [--cost C] [--parallelism P]
//               [--hash-threads T] [--only PREFIX] [--deadline SECONDS]
//
// Workloads (each client from its own loopback address, 127.1.x.y, so the
// per-address login limits treat them as the different players they stand for):
//   logins_signup_{N}    N new names: every login is a sign-up
//   logins_existing_{N}  the same N names again: every account exists
// Each reports logins per second and the time until the last client is
// logged in, beside its baseline measured in the same run, just before the
// storm: scrypt hashes with the server's parameters on as many threads as
// the server hashes with, and nothing else (100 per thread, scaled to N). A client refused with
// server_busy or "being checked" reconnects after a jittered backoff (100 ms doubling to 2 s), as
// the C++ client should, and logs in again; the retries are reported.
// The server runs the default password hashing (N = 2^14, p = 5) unless
// --cost and --parallelism say otherwise; --hash-threads 0 is one per core.
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "bench_util.hpp"
#include "net/frames.hpp"
#include "net/load.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kTooManyAttempts = 7, kServerBusy = 22;
constexpr int kMaxAttempts = 200;

struct Args : bench::RunOptions {
  std::size_t clients = 1000;
  int cost = starhold::ServerOptions{}.password_hash_cost;
  int parallelism = starhold::ServerOptions{}.password_hash_parallelism;
  int hash_threads = 0;
  std::chrono::seconds deadline{900};
};

// One player: connects from its own address, says HELLO, logs in; told to
// retry, it closes, waits and starts over. Lives on the load thread.
class Player : public std::enable_shared_from_this<Player> {
 public:
  Player(asio::io_context& io, std::uint16_t port, std::string name, asio::ip::address_v4 from,
         std::function<void(bool ok)> done)
      : socket_(io),
        timer_(io),
        port_(port),
        name_(std::move(name)),
        from_(from),
        done_(std::move(done)),
        reader_(4096),
        rng_(std::hash<std::string>()(name_)) {}

  void start() {
    ++attempts_;
    boost::system::error_code ec;
    socket_ = tcp::socket(timer_.get_executor());
    socket_.open(tcp::v4(), ec);
    if (!ec) socket_.bind(tcp::endpoint(from_, 0), ec);
    if (ec) return finish(false);
    socket_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port_),
                          [self = shared_from_this()](boost::system::error_code e) {
                            if (e) return self->retry();
                            self->write(frame(op::hello, std::string("SHLD\x00\x01", 6)));
                            self->read();
                          });
  }
  // Clients told to come back later (server_busy, or too many in flight).
  int retries() const noexcept { return attempts_ - 1; }
  // Ends this player's part: no more retries, its connection closed.
  void stop() {
    finished_ = true;
    timer_.cancel();
    close();
  }

 private:
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  void write(std::string bytes) {
    auto buf = std::make_shared<std::string>(std::move(bytes));
    asio::async_write(socket_, asio::buffer(*buf),
                      [buf](boost::system::error_code, std::size_t) {});
  }
  void read() {
    socket_.async_read_some(
        reader_.space(), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->finished_ ? void() : self->retry();
          self->reader_.commit(n);
          bool again = true;
          self->reader_.each([&](std::uint8_t opcode, std::string_view body) {
            if (!again) return;
            again = self->handle(opcode, body);
          });
          if (again) self->read();
        });
  }
  // False once this connection is done with.
  bool handle(std::uint8_t opcode, std::string_view body) {
    const auto reason = body.size() >= 2 ? get_be(body.data(), 2) : 0;
    switch (opcode) {
      case op::welcome:
        write(frame(op::login, str16(name_) + str16("pw")));
        return true;
      case op::login_ok:
        finish(true);
        return true;  // stays, answering heartbeats, as a connected player does
      case op::heartbeat:
        if (finished_) write(frame(op::heartbeat, u64_body(0)));  // it receives no messages
        return true;
      case op::login_failed:
        if (reason == kServerBusy || reason == kTooManyAttempts) {
          retry();
        } else {
          finish(false);
        }
        return false;
      case op::disconnect:
        retry();
        return false;
      default:
        return true;
    }
  }
  void retry() {
    close();
    if (finished_) return;
    if (attempts_ >= kMaxAttempts) return finish(false);
    const auto cap =
        std::min<std::chrono::milliseconds>(2000ms, 100ms * (1 << std::min(attempts_, 5)));
    const auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<long>(cap.count() / 2, cap.count())(rng_));
    timer_.expires_after(wait);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->start();
    });
  }
  void finish(bool ok) {
    if (finished_) return;
    finished_ = true;
    done_(ok);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint16_t port_;
  std::string name_;
  asio::ip::address_v4 from_;
  std::function<void(bool)> done_;
  FrameReader reader_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
  bool finished_ = false;
};

struct Storm {
  std::size_t ok = 0, failed = 0, retries = 0;
  double last_s = 0, median_s = 0;
};

// Every client starts at once; returns when each has logged in or given up.
Storm storm(std::uint16_t port, const Args& args) {
  LoadThread t;
  Storm s;
  std::vector<std::shared_ptr<Player>> players;
  std::vector<double> times;
  std::promise<void> all_done;
  std::size_t ended = 0;
  const auto t0 = Clock::now();
  t.call([&] {
    for (std::size_t i = 0; i < args.clients; ++i) {
      const auto from = asio::ip::make_address_v4(fmt::format("127.1.{}.{}", i / 250, 1 + i % 250));
      players.push_back(
          std::make_shared<Player>(t.io(), port, fmt::format("player{}", i), from, [&](bool ok) {
            (ok ? s.ok : s.failed)++;
            if (ok) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            if (++ended == args.clients) all_done.set_value();
          }));
    }
    for (auto& p : players)
      p->start();
    return 0;
  });
  if (all_done.get_future().wait_until(t0 + args.deadline) != std::future_status::ready) {
    fmt::print(stderr, "login_bench: the deadline passed with {} of {} clients done\n",
               s.ok + s.failed, args.clients);
  }
  t.call([&] {
    s.failed = args.clients - s.ok;
    for (auto& p : players) {
      s.retries += static_cast<std::size_t>(p->retries());
      p->stop();
    }
    std::sort(times.begin(), times.end());
    s.last_s = times.empty() ? 0 : times.back();
    s.median_s = times.empty() ? 0 : times[times.size() / 2];
    return 0;
  });
  t.finish();
  return s;
}

// The baseline: `count` hashes with the same parameters on the same number
// of threads, nothing else. Returns the seconds it took.
double hashes_alone(const Args& args, int threads, std::size_t count) {
  std::atomic<std::size_t> next{0};
  const std::uint64_t n = std::uint64_t{1} << args.cost, r = 8;
  const auto p = static_cast<std::uint64_t>(args.parallelism);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      unsigned char out[32];
      while (next.fetch_add(1) < count) {
        if (EVP_PBE_scrypt("pw", 2, reinterpret_cast<const unsigned char*>("saltsaltsaltsalt"), 16,
                           n, r, p, 128 * r * (n + p + 2) + (1 << 20), out, sizeof out) != 1) {
          throw std::runtime_error("scrypt failed in the baseline");
        }
      }
    });
  }
  for (auto& th : pool)
    th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The baseline for a storm of args.clients logins: a sample of the hashes
// alone, timed just before the storm (other load on the machine varies),
// scaled to args.clients hashes.
struct Baseline {
  std::size_t hashes = 0;
  double seconds = 0;  // for args.clients hashes
};
Baseline baseline(const Args& args, int threads) {
  const std::size_t sample = std::min<std::size_t>(args.clients, 100 * threads);
  const double took = hashes_alone(args, threads, sample);
  return {sample, took * static_cast<double>(args.clients) / static_cast<double>(sample)};
}

void report(const std::string& name, const Args& args, const Storm& s, const Baseline& b) {
  const double n = static_cast<double>(args.clients);
  bench::report(
      name, s.last_s > 0 ? static_cast<double>(s.ok) / s.last_s : 0, "logins/s", n / b.seconds,
      fmt::format(R"("last_login_s":{:.2f},"median_login_s":{:.2f},"baseline_s":{:.2f},)"
                  R"("baseline_sampled_hashes":{},"logged_in":{},"failed":{},"retries":{},)"
                  R"("scrypt":"N=2^{} r=8 p={}")",
                  s.last_s, s.median_s, b.seconds, b.hashes, s.ok, s.failed, s.retries, args.cost,
                  args.parallelism));
}

Args parse(int argc, char** argv) {
  Args a;
  bench::parse_options(argc, argv, a, [&](std::string_view flag, const std::string& value) {
    if (flag == "--clients") {
      a.clients = static_cast<std::size_t>(std::stoul(value));
    } else if (flag == "--cost") {
      a.cost = std::stoi(value);
    } else if (flag == "--parallelism") {
      a.parallelism = std::stoi(value);
    } else if (flag == "--hash-threads") {
      a.hash_threads = std::stoi(value);
    } else if (flag == "--deadline") {
      a.deadline = std::chrono::seconds(std::stol(value));
    } else {
      return false;
    }
    return true;
  });
  if (a.clients == 0 || a.clients > 60000) throw std::runtime_error("--clients must be 1..60000");
  return a;
}

int run(const Args& args) {
  const int threads = args.hash_threads > 0
                          ? args.hash_threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  fmt::print(stderr,
             "login_bench: {} clients, scrypt N=2^{} p={}, {} hashing threads, open-file "
             "limit {}\n",
             args.clients, args.cost, args.parallelism, threads, raise_fd_limit());

  bench::ScratchDir dir(args.dir, "login-bench");
  LogTap tap;
  auto o = net_options(dir.path(), tap);
  o.password_hash_cost = args.cost;
  o.password_hash_parallelism = args.parallelism;
  o.password_hash_threads = threads;
  o.max_failed_logins = starhold::ServerOptions{}.max_failed_logins;
  o.password_hash_queue = 0;
  o.max_connections = std::max<std::size_t>(o.max_connections, 2 * args.clients + 100);
  starhold::Server server(o);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  const auto port = server.port(starhold::Server::Listener::tcp);

  // The sign-up storm always runs: the second storm needs its accounts.
  const std::string n = std::to_string(args.clients);
  const Baseline before_signup = baseline(args, threads);
  const Storm signup = storm(port, args);
  if (args.wants("logins_signup_" + n)) report("logins_signup_" + n, args, signup, before_signup);
  if (args.wants("logins_existing_" + n)) {
    const Baseline before = baseline(args, threads);
    report("logins_existing_" + n, args, storm(port, args), before);
  }
  return 0;
}

}  // namespace
}  // namespace netbench

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return netbench::run(netbench::parse(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "login_bench: {}\n", e.what());
    return 2;
  }
}
