// Durability across power loss: the child runs under the disk simulator
// (support/disk_simulator.cpp), which keeps what the store synced and journals
// what it did not. After the kill, each data file a power loss could leave
// (the unsynced writes all lost, or each lost, written or torn at a sector
// boundary) is checked like a crash: every reported commit present, the books
// balanced, every scheduled task run exactly once.
//
// LMDB writes its meta page (the commit point) as one write of 120 bytes
// inside the page's first sector, so a power loss leaves the meta sector old
// or new, never half of each: disks write a 512-byte sector whole, and the
// simulator tears writes only at sector boundaries. LMDB 0.9's meta page has
// no checksum, so a tear inside it would not be survivable; no disk makes one.
#include <catch2/catch.hpp>

#include <csignal>

#include "support/crash_harness.hpp"
#include "support/power_loss.hpp"

namespace {

struct Outcome {
  std::string what;  // the power loss and the check's output
  int status = 0;    // the check's
};

// Runs one loaded child on world under the disk simulator until it is killed,
// then checks the data file of each power loss: all unsynced writes dropped,
// then random ones (seeds 1..variants-1). The last one becomes the world's
// store for the next round.
std::vector<Outcome> crash_and_check(test::CrashedWorld& world, const test::TempDir& dir,
                                     test::CrashedWorld::Load load, int variants) {
  const std::string sim = dir.sub("disk");
  test::prepare_disk(sim, world.store());
  const auto run = world.load(load);
  REQUIRE(run.status == 128 + SIGKILL);
  REQUIRE(run.committed > 0);
  std::vector<Outcome> out;
  for (int v = 0; v < variants; ++v) {
    const std::string target =
        v + 1 == variants ? world.store() : dir.sub("power-loss-" + std::to_string(v));
    const auto report =
        test::power_loss(sim, target, v == 0 ? test::Unsynced::dropped : test::Unsynced::random, v);
    const auto check = world.check(target);
    out.push_back({report.summary() + "\n" + check.output, check.status});
  }
  return out;
}

test::CrashedWorld::Load load_until(const test::CrashedWorld& world, const test::TempDir& dir,
                                    std::vector<std::string> options, const std::string& crash,
                                    std::size_t commits) {
  test::CrashedWorld::Load load{
      std::move(options), test::disk_environment(dir.sub("disk"), world.store(), crash), {}};
  if (crash.empty()) {
    load.kill_when = [commits](const test::LoadRun& r, const std::string&) {
      return r.committed >= commits;
    };
  }
  return load;
}

}  // namespace

TEST_CASE("after a power loss, every reported commit is present and nothing half-done") {
  test::TempDir dir;
  test::CrashedWorld world(dir);
  const std::vector<std::string> durable = {"--seconds", "30"};
  // Mid-load; then with the meta page of a commit written and not yet
  // returned (so not known to be on the disk); then with pages written and
  // not synced.
  for (const std::string crash : {"", "meta-after:60", "sync:60"}) {
    for (const auto& outcome :
         crash_and_check(world, dir, load_until(world, dir, durable, crash, 1500), 3)) {
      INFO("crash point '" << crash << "': " << outcome.what);
      CHECK(outcome.status == 0);
    }
  }
}

TEST_CASE("the power-loss simulation fails a store that reports commits before syncing them") {
  test::TempDir dir;
  test::CrashedWorld world(dir);
  // A durable history first, then a process that does not sync before it reports.
  const auto durable = crash_and_check(world, dir, load_until(world, dir, {}, "", 300), 1);
  REQUIRE(durable[0].status == 0);
  const std::vector<std::string> relaxed = {"--relaxed", "--seconds", "30"};
  const auto outcomes = crash_and_check(world, dir, load_until(world, dir, relaxed, "", 300), 2);
  for (const auto& outcome : outcomes) {
    INFO(outcome.what);
    CHECK(outcome.status != 0);  // a corrupt store may even crash the checker
  }
  // With every unsynced write lost, the store is the durable history: the
  // relaxed process's reported commits are gone.
  INFO(outcomes[0].what);
  CHECK(outcomes[0].what.find("VIOLATION: reported transfer") != std::string::npos);
}
