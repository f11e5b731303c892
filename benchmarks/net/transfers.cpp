// transfers_net_*: bank transfers between kAccounts accounts sent by 64
// clients, 4 pipelined each; a reply leaves once its commit is durable.
// Accounts are picked uniformly or by Zipf(1.5); an audit afterwards checks
// that the total balance is unchanged.
#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "net/closed_loop.hpp"
#include "net/workloads.hpp"
#include "net/worlds.hpp"

namespace netbench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kTransferClients = 64;
constexpr std::size_t kTransferWindow = 4;  // pipelined requests per client

}  // namespace

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
  LoadThread t;
  Link<tcp::socket>::Options o;
  o.port = server.port(starhold::Server::Listener::tcp);
  auto wave =
      log_in_all<tcp::socket>(t, kTransferClients, "teller", o, 64, Clock::now() + 60s, tcp_link);
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
  const LoopResult r = measure_loop(t, loop, args, "sh-");
  std::string problem;
  const std::size_t closed = count_closed<tcp::socket>(t, wave.links, problem);
  if (!problem.empty()) fmt::print(stderr, "  client problem: {}\n", problem);
  close_all<tcp::socket>(t, wave.links);
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
          R"("aborted_fraction":{:.4f},"avg_batch":{:.0f},"unanswered":{},"links_closed":{},)"
          R"("server_cpu_us_per_transfer":{:.2f},)",
          kTransferClients, wave.ok, kTransferWindow, r.p50_ms, r.p99_ms,
          total == static_cast<std::int64_t>(kAccounts) * kInitialBalance ? "true" : "false",
          declined, mismatched, aborted,
          batches > 0
              ? static_cast<double>(after.tasks_committed - before.tasks_committed) / batches
              : 0.0,
          r.unanswered, closed, r.server_cpu_us) +
          server_notes(before, after, tap));
}

}  // namespace netbench
