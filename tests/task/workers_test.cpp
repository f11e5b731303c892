// The worker pool: every idle worker is put to use.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "support/test_support.hpp"

TEST_CASE("a burst of submits wakes one idle worker per task") {
  test::TempDir dir;
  test::LogCapture log;
  constexpr int kWorkers = 4;
  auto options = test::options_for(dir.path(), log, kWorkers);
  options.task_time_limit = std::chrono::seconds(60);
  starhold::Server server(options);
  server.start();
  test::run(server, [](starhold::Transaction&) {});  // the workers are up and asleep

  for (int round = 0; round < 5; ++round) {
    // Each task waits for all of them to be running at once, which only
    // kWorkers workers running side by side can do.
    std::atomic<int> arrived{0};
    std::atomic<int> met{0};
    std::vector<std::future<void>> tasks;
    for (int i = 0; i < kWorkers; ++i) {
      tasks.push_back(server.submit("meet", [&](starhold::Transaction& tx) {
        if (tx.attempt() == 1) ++arrived;
        if (test::wait_until([&] { return arrived.load() == kWorkers; }, std::chrono::seconds(5))) {
          ++met;
        }
      }));
    }
    for (auto& f : tasks)
      f.get();
    CHECK(met.load() == kWorkers);
  }
}
