// The loaded process of the crash tests (see helper_modes.hpp, bank-load).
#include <unistd.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>

#include "support/bank.hpp"
#include "support/helper_modes.hpp"

namespace helper {
namespace {

constexpr int kWindow = 32;     // transfers each client keeps in flight
constexpr int kMarkWindow = 4;  // marks scheduled at once
constexpr int kMaxMarkDelayMs = 40;

void say(const std::string& line) {
  std::string l = line + "\n";
  // One write per line, unbuffered: the parent must see every line written
  // before the kill.
  (void)!::write(STDOUT_FILENO, l.data(), l.size());
}

struct LoadOptions {
  std::string dir;
  bool relaxed = false;
  std::size_t store_bytes = 0;
  int seconds = 60;
  int clients = 4;  // threads submitting transfers
};

LoadOptions parse(const std::vector<std::string>& args) {
  if (args.empty()) throw std::invalid_argument("bank-load needs a store directory");
  LoadOptions o;
  o.dir = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--relaxed") {
      o.relaxed = true;
    } else if (args[i] == "--store-bytes" && has_value) {
      o.store_bytes = std::stoull(args[++i]);
    } else if (args[i] == "--seconds" && has_value) {
      o.seconds = std::stoi(args[++i]);
    } else if (args[i] == "--clients" && has_value) {
      o.clients = std::stoi(args[++i]);
    } else {
      throw std::invalid_argument("bank-load: unknown option " + args[i]);
    }
  }
  return o;
}

// Keeps kWindow transfers in flight and reports each durable commit.
void transfer_client(starhold::Server& server, std::atomic<std::uint64_t>& next, unsigned seed,
                     std::chrono::steady_clock::time_point end) {
  std::mt19937 rng(seed);
  while (std::chrono::steady_clock::now() < end) {
    std::vector<std::future<void>> window;
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < kWindow; ++i) {
      const std::uint64_t id = next.fetch_add(1);
      const int from = static_cast<int>(rng() % bank::kAccounts);
      const int to = static_cast<int>(rng() % bank::kAccounts);
      const std::int64_t amount = 1 + static_cast<std::int64_t>(rng() % 20);
      ids.push_back(id);
      window.push_back(server.submit("transfer", [=](starhold::Transaction& tx) {
        bank::transfer(tx, id, from, to, amount);
      }));
    }
    for (std::size_t i = 0; i < window.size(); ++i) {
      window[i].get();
      say("committed " + std::to_string(ids[i]));
    }
  }
}

// Schedules marks due at once or within kMaxMarkDelayMs, so a kill at any
// moment finds some due and not yet run.
void mark_scheduler(starhold::Server& server, std::uint64_t first_id,
                    std::chrono::steady_clock::time_point end) {
  std::mt19937 rng(7);
  std::uint64_t next = first_id;
  while (std::chrono::steady_clock::now() < end) {
    std::vector<std::future<void>> window;
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < kMarkWindow; ++i) {
      const std::uint64_t id = next++;
      const auto delay = std::chrono::milliseconds(rng() % kMaxMarkDelayMs);
      ids.push_back(id);
      window.push_back(server.submit(
          "schedule mark", [=](starhold::Transaction& tx) { bank::schedule_mark(tx, id, delay); }));
    }
    for (std::size_t i = 0; i < window.size(); ++i) {
      window[i].get();
      say("scheduled " + std::to_string(ids[i]));
    }
  }
}

}  // namespace

int bank_load(const std::vector<std::string>& args) {
  const LoadOptions o = parse(args);
  starhold::ServerOptions so;
  so.store_path = o.dir;
  so.durable = !o.relaxed;
  if (o.store_bytes != 0) so.initial_store_bytes = o.store_bytes;
  so.workers = 2;
  so.log_level = starhold::LogLevel::warn;
  starhold::Server server(so);
  bank::register_handlers(server, [](std::uint64_t id) { say("ran mark " + std::to_string(id)); });
  say("starting");
  server.start();
  const auto pending = server.metrics().scheduled_pending;
  const std::uint64_t run = bank::open_run(server);
  say("run " + std::to_string(run) + " pending " + std::to_string(pending));

  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(o.seconds);
  const std::uint64_t base = run * bank::kIdsPerRun;
  std::atomic<std::uint64_t> next_transfer{base + 1};
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      transfer_client(server, next_transfer, static_cast<unsigned>(run * 16 + c), end);
    });
  }
  threads.emplace_back([&] { mark_scheduler(server, base + bank::kIdsPerRun / 2, end); });
  for (auto& t : threads)
    t.join();
  server.stop();
  return 0;
}

}  // namespace helper
