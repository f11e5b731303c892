// Durability across kill -9: a child process runs bank transfers and schedules
// one-shot durable tasks due at once or within milliseconds, printing each
// commit it was told of, and dies by SIGKILL at chosen points: while the store
// grows its map, between a commit's page writes and their sync, between that
// sync and the meta page that commits them, mid-load, and while a restarted
// child re-arms and runs the tasks due from before. After the kills a checker
// process restarts the store and audits it: every reported commit present,
// the books balanced, every scheduled task run exactly once across all the
// processes, the periodic task running again.
#include <catch2/catch.hpp>

#include <csignal>

#include "support/crash_harness.hpp"
#include "support/power_loss.hpp"

namespace {

// The map starts as small as LMDB lets a new store start (1 MiB), so it grows
// within seconds under load.
const std::vector<std::string> kLoad = {"--store-bytes", "65536", "--seconds", "30"};

test::CrashedWorld::Load crash_at(const test::CrashedWorld& world, const std::string& point) {
  return {kLoad, test::disk_environment("", world.store(), point), {}};
}

}  // namespace

TEST_CASE("kill -9 at many points loses no reported commit and runs due tasks exactly once") {
  test::TempDir dir;
  test::CrashedWorld world(dir);

  // The first growth of the map: LMDB has unmapped the old map and not yet
  // mapped the new one; the batch that did not fit is not yet written.
  auto run = world.load(crash_at(world, "resize:1"));
  CHECK(run.status == 128 + SIGKILL);
  CHECK(run.committed > 0);
  // Halfway through writing a commit's pages.
  run = world.load(crash_at(world, "write:300"));
  CHECK(run.status == 128 + SIGKILL);
  CHECK(run.committed > 0);
  // A commit's pages are written and not synced.
  run = world.load(crash_at(world, "sync:40"));
  CHECK(run.status == 128 + SIGKILL);
  CHECK(run.committed > 0);
  // The pages are synced; the meta page that makes them the store is not written.
  run = world.load(crash_at(world, "meta:40"));
  CHECK(run.status == 128 + SIGKILL);
  CHECK(run.committed > 0);
  {
    auto check = world.check();
    INFO(check.output);
    CHECK(check.status == 0);
  }

  // Mid-load, with marks scheduled and due; then the restarted process is
  // killed as soon as it has run its first mark, while the marks due from
  // before are re-armed and running.
  run = world.load({kLoad, {}, [](const test::LoadRun& r, const std::string&) {
                      return r.committed >= 500 && r.scheduled >= 20;
                    }});
  CHECK(run.status == 128 + SIGKILL);
  run = world.load(
      {kLoad, {}, [](const test::LoadRun& r, const std::string&) { return r.marks_ran > 0; }});
  CHECK(run.status == 128 + SIGKILL);
  CHECK(run.marks_ran_recovering > 0);  // it died running marks due from before
  auto check = world.check();
  INFO(check.output);
  CHECK(check.status == 0);
}
