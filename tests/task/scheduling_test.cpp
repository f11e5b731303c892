// Delayed, periodic and durable tasks.
#include <catch2/catch.hpp>

#include <future>
#include <mutex>

#include <thread>

#include "support/gated_store.hpp"
#include "support/test_support.hpp"

namespace {

struct Tally final : starhold::Managed<Tally> {
  static constexpr std::string_view type_name = "test.Tally";
  std::map<std::string, std::int32_t> runs;
  template <class F>
  void fields(F& f) {
    f(1, runs);
  }
};

// A handler that counts its runs, by payload, in a stored Tally bound to "tally".
starhold::TaskHandler tally_handler() {
  return [](starhold::Transaction& tx, std::string_view payload) {
    tx.lookup<Tally>("tally").runs[std::string(payload)] += 1;
  };
}

std::map<std::string, std::int32_t> tally(starhold::Server& server) {
  std::map<std::string, std::int32_t> out;
  test::run(server, [&](starhold::Transaction& tx) { out = tx.lookup<Tally>("tally").runs; });
  return out;
}

void make_tally(starhold::Server& server) {
  test::run(server, [](starhold::Transaction& tx) { tx.bind("tally", tx.create<Tally>()); });
}

}  // namespace

TEST_CASE("a delayed task runs once, after its delay, with its payload") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.handle("count", tally_handler());
  server.start();
  make_tally(server);
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> ran_after_ms{-1};
  server.schedule("count", "a", std::chrono::milliseconds(150)).get();
  test::run(server, [&](starhold::Transaction& tx) {
    tx.schedule("count", "b", std::chrono::milliseconds(0));
    tx.on_commit([] {});
  });
  REQUIRE(test::wait_until([&] { return tally(server).size() == 2; }));
  ran_after_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto runs = tally(server);
  CHECK(runs["a"] == 1);
  CHECK(runs["b"] == 1);
  CHECK(ran_after_ms.load() >= 150);
  CHECK(server.metrics().scheduled_pending == 0);
}

TEST_CASE("a periodic task repeats without overlapping and stops when cancelled") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = std::make_shared<starhold::ShiftedClock>();
  auto options = test::options_for(dir.path(), log);
  options.clock = clock;
  starhold::Server server(options);
  std::atomic<int> running{0}, overlaps{0};
  server.handle("tick", [&](starhold::Transaction& tx, std::string_view p) {
    if (running.fetch_add(1) != 0) overlaps.fetch_add(1);
    tx.lookup<Tally>("tally").runs[std::string(p)] += 1;
    running.fetch_sub(1);
  });
  server.start();
  make_tally(server);
  constexpr auto kPeriod = std::chrono::hours(1);
  starhold::TaskHandle handle =
      server.schedule_periodic("tick", "t", std::chrono::milliseconds(0), kPeriod).get();
  for (int run = 1; run <= 5; ++run) {
    REQUIRE(test::wait_until([&] { return tally(server)["t"] == run; }));
    clock->advance(kPeriod);
  }
  REQUIRE(test::wait_until([&] { return tally(server)["t"] == 6; }));
  bool cancelled = false;
  test::run(server, [&](starhold::Transaction& tx) { cancelled = tx.cancel(handle); });
  CHECK(cancelled);
  // The run armed for the next period finds its record gone and ends.
  clock->advance(kPeriod);
  REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
  CHECK(tally(server)["t"] == 6);
  CHECK(overlaps.load() == 0);
  test::run(server, [&](starhold::Transaction& tx) { CHECK_FALSE(tx.cancel(handle)); });
}

TEST_CASE("a periodic task runs one period after each run ends, never to catch up") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = std::make_shared<starhold::ShiftedClock>();
  auto options = test::options_for(dir.path(), log);
  options.clock = clock;
  starhold::Server server(options);
  std::mutex mu;
  std::vector<std::int64_t> ran_at;  // wall ms, as the server's clock says
  server.handle("tick", [&](starhold::Transaction&, std::string_view) {
    std::lock_guard lock(mu);
    ran_at.push_back(clock->wall_ms());
  });
  server.start();
  auto runs = [&] {
    std::lock_guard lock(mu);
    return ran_at.size();
  };
  constexpr auto kPeriod = std::chrono::hours(1);
  server.schedule_periodic("tick", "", std::chrono::milliseconds(0), kPeriod).get();
  REQUIRE(test::wait_until([&] { return runs() == 1; }));
  clock->advance(3 * kPeriod);  // the server fell far behind
  REQUIRE(test::wait_until([&] { return runs() == 2; }));
  for (std::size_t n = 3; n <= 4; ++n) {
    clock->advance(kPeriod);
    REQUIRE(test::wait_until([&] { return runs() == n; }));
  }
  std::lock_guard lock(mu);
  for (std::size_t i = 1; i < ran_at.size(); ++i)
    CHECK(ran_at[i] - ran_at[i - 1] >= std::chrono::milliseconds(kPeriod).count());
}

TEST_CASE("scheduled tasks survive a restart and run exactly once") {
  test::TempDir dir;
  test::LogCapture log;
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.handle("count", tally_handler());
    server.start();
    make_tally(server);
    test::run(server, [](starhold::Transaction& tx) {
      for (int i = 0; i < 5; ++i)
        tx.schedule("count", "once", std::chrono::milliseconds(300));
      tx.schedule_periodic("count", "periodic", std::chrono::milliseconds(300),
                           std::chrono::milliseconds(50));
    });
    CHECK(server.metrics().scheduled_pending == 6);
  }  // stops before any of them is due
  starhold::Server server(test::options_for(dir.path(), log));
  server.handle("count", tally_handler());
  server.start();
  REQUIRE(test::wait_until([&] {
    auto t = tally(server);
    return t["once"] == 5 && t["periodic"] >= 3;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(tally(server)["once"] == 5);
}

TEST_CASE("scheduling an unknown handler, or starting without one the store needs, is refused") {
  test::TempDir dir;
  test::LogCapture log;
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.handle("count", tally_handler());
    server.start();
    auto f = server.submit("bad", [](starhold::Transaction& tx) { tx.schedule("nope", ""); });
    CHECK_THROWS_WITH(f.get(), Catch::Contains("nope"));
    server.schedule("count", "x", std::chrono::hours(1)).get();
  }
  starhold::Server server(test::options_for(dir.path(), log));
  CHECK_THROWS_WITH(server.start(), Catch::Contains("count") && Catch::Contains("register"));
}

TEST_CASE("a scheduled task whose handler throws is retired, also for later restarts") {
  test::TempDir dir;
  test::LogCapture log;
  std::atomic<int> runs{0};
  auto throwing = [&](starhold::Transaction&, std::string_view) {
    ++runs;
    throw std::logic_error("bad payload");
  };
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.handle("boom", throwing);
    server.start();
    server.schedule("boom", "").get();
    // Pending until the retirement of its record is durable.
    REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
    CHECK(runs.load() == 1);
    CHECK(log.count({"boom", "retired"}) == 1);
  }
  starhold::Server server(test::options_for(dir.path(), log));
  server.handle("boom", throwing);
  server.start();  // re-arms synchronously whatever the store still holds
  CHECK(log.count({"re-armed"}) == 0);
  CHECK(server.metrics().scheduled_pending == 0);
  CHECK(log.count({"boom", "bad payload", "retiring"}) == 1);
}

TEST_CASE("a failed scheduled task is retired even if the store fails its retirement once") {
  test::TempDir dir;
  test::LogCapture log;
  std::atomic<int> runs{0};
  std::promise<void> go;
  std::shared_future<void> go_signal = go.get_future().share();
  auto throwing = [&](starhold::Transaction&, std::string_view) {
    if (++runs == 1) go_signal.wait();
    throw std::logic_error("bad payload");
  };
  {
    starhold::LmdbOptions lmdb;
    lmdb.path = dir.sub("store");
    auto gated = std::make_unique<test::GatedStore>(starhold::open_lmdb_store(lmdb));
    test::GatedStore* store = gated.get();
    auto options = test::options_for(dir.path(), log);
    options.task_time_limit = std::chrono::seconds(60);
    starhold::Server server(options, std::move(gated));
    server.handle("boom", throwing);
    server.start();
    server.schedule("boom", "").get();
    REQUIRE(test::wait_until([&] { return runs.load() == 1; }));
    // The next write is the retirement of the failed task's record.
    store->fail_next(
        1, [] { return std::make_exception_ptr(starhold::StoreError("injected I/O error")); });
    go.set_value();
    REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
    CHECK(store->writes_failed() == 1);
    CHECK(log.count({"boom", "retired"}) == 1);
  }
  starhold::Server server(test::options_for(dir.sub("store"), log));
  server.handle("boom", throwing);
  server.start();
  CHECK(log.count({"re-armed"}) == 0);
  CHECK(runs.load() == 1);
}
