// Durability across kill -9: a child process runs bank transfers and schedules
// one-shot durable tasks, printing each commit it was told of, and is killed
// with SIGKILL mid-load. A checker process then restarts the store and audits
// it: every reported commit present, the books balanced, every scheduled task
// run exactly once, the periodic task running again.
#include <catch2/catch.hpp>

#include <csignal>

#include "support/crash_harness.hpp"

TEST_CASE("after kill -9, every reported commit is present and nothing half-done") {
  test::TempDir dir;
  test::CrashedWorld world(dir);
  auto run = world.load({{"--seconds", "30"}, {}, [](const test::LoadRun& r, const std::string&) {
                           return r.committed >= 3000;
                         }});
  CHECK(run.status == 128 + SIGKILL);
  auto check = world.check();
  INFO(check.output);
  CHECK(check.status == 0);
}
