// A separate program the tests run as a child process:
//   test_helper transfers DIR   runs bank transfers until killed, printing
//                               "committed N" for each transfer whose durable
//                               commit it was told of
//   test_helper write-v1 DIR    stores a Player in the first version of its schema
//   test_helper read-v1 DIR     prints that Player's fields as version 1 sees them
// Being another program is the point: it is the old build in schema tests and
// the process killed with SIGKILL in the durability test.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "starhold/starhold.hpp"
#include "support/bank.hpp"

namespace {

struct PlayerV1 final : starhold::Managed<PlayerV1> {
  static constexpr std::string_view type_name = "evolve.Player";
  std::string name;
  std::int32_t level = 0;
  std::string motto;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(3, motto);
  }
};

void say(const std::string& line) {
  std::string l = line + "\n";
  // One write per line, unbuffered: the parent must see every line written
  // before the kill.
  (void)!::write(STDOUT_FILENO, l.data(), l.size());
}

starhold::ServerOptions options(const char* dir) {
  starhold::ServerOptions o;
  o.store_path = dir;
  o.workers = 2;
  o.log_level = starhold::LogLevel::warn;
  return o;
}

int transfers(const char* dir) {
  starhold::Server server(options(dir));
  bank::register_handlers(server);
  server.start();
  bank::setup(server);
  say("ready");
  std::atomic<std::uint64_t> next{1};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c + 1));
      for (;;) {
        // Keep a window of transfers in flight; report each durable commit.
        std::vector<std::future<void>> window;
        std::vector<std::uint64_t> ids;
        for (int i = 0; i < 32; ++i) {
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
    });
  }
  for (auto& t : clients)
    t.join();
  return 0;
}

int write_v1(const char* dir) {
  starhold::Server server(options(dir));
  server.start();
  server
      .submit("write",
              [](starhold::Transaction& tx) {
                auto& p = tx.create<PlayerV1>();
                p.name = "ana";
                p.level = 12;
                p.motto = "carpe diem";
                tx.bind("player", p);
              })
      .get();
  return 0;
}

int read_v1(const char* dir) {
  starhold::Server server(options(dir));
  server.start();
  server
      .submit("read",
              [](starhold::Transaction& tx) {
                auto& p = tx.lookup<PlayerV1>("player");
                const std::string line = p.name + "|" + std::to_string(p.level) + "|" + p.motto;
                tx.on_commit([line] { say(line); });
              })
      .get();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s transfers|write-v1|read-v1 DIR\n", argv[0]);
    return 2;
  }
  try {
    if (std::strcmp(argv[1], "transfers") == 0) return transfers(argv[2]);
    if (std::strcmp(argv[1], "write-v1") == 0) return write_v1(argv[2]);
    if (std::strcmp(argv[1], "read-v1") == 0) return read_v1(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_helper: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown command %s\n", argv[1]);
  return 2;
}
