// A separate program the tests run as a child process:
//   test_helper write-v1 DIR    stores a Player in the first version of its schema
//   test_helper read-v1 DIR     prints that Player's fields as version 1 sees them
//   test_helper bank-load ...   the loaded process the crash tests kill
//   test_helper bank-check ...  the checker they run after each crash
//   test_helper prepare-disk / power-loss ...  the disk simulator's steps
// (the bank modes are described in helper_modes.hpp). Being another program is
// the point: it is the old build in schema tests and the process killed with
// SIGKILL in the crash tests.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "starhold/starhold.hpp"
#include "support/helper_modes.hpp"
#include "support/power_loss.hpp"

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

starhold::ServerOptions options(const std::string& dir) {
  starhold::ServerOptions o;
  o.store_path = dir;
  o.workers = 2;
  o.log_level = starhold::LogLevel::warn;
  return o;
}

int write_v1(const std::vector<std::string>& args) {
  starhold::Server server(options(args.at(0)));
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

int read_v1(const std::vector<std::string>& args) {
  starhold::Server server(options(args.at(0)));
  server.start();
  server
      .submit("read",
              [](starhold::Transaction& tx) {
                auto& p = tx.lookup<PlayerV1>("player");
                const std::string line = p.name + "|" + std::to_string(p.level) + "|" + p.motto;
                tx.on_commit([line] {
                  const std::string l = line + "\n";
                  (void)!::write(STDOUT_FILENO, l.data(), l.size());
                });
              })
      .get();
  return 0;
}

}  // namespace

namespace helper {

int prepare_disk(const std::vector<std::string>& args) {
  test::prepare_disk(args.at(0), args.at(1));
  return 0;
}

int power_loss(const std::vector<std::string>& args) {
  auto report =
      test::power_loss(args.at(0), args.at(1), test::Unsynced::random, std::stoull(args.at(2)));
  std::cout << "power loss: " << report.summary() << std::endl;
  return 0;
}

}  // namespace helper

int main(int argc, char** argv) {
  struct Mode {
    const char* name;
    int (*run)(const std::vector<std::string>&);
  };
  static constexpr Mode kModes[] = {
      {"write-v1", write_v1},
      {"read-v1", read_v1},
      {"bank-load", helper::bank_load},
      {"bank-check", helper::bank_check},
      {"prepare-disk", helper::prepare_disk},
      {"power-loss", helper::power_loss},
  };
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODE DIR [ARGS...]\n", argv[0]);
    return 2;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const Mode& m : kModes) {
    if (std::strcmp(argv[1], m.name) != 0) continue;
    try {
      return m.run(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "test_helper %s: %s\n", m.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
