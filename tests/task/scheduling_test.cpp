// Delayed, periodic and durable tasks.
#include <catch2/catch.hpp>

#include <future>

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
  starhold::Server server(test::options_for(dir.path(), log));
  std::atomic<int> running{0}, overlaps{0};
  server.handle("tick", [&](starhold::Transaction& tx, std::string_view p) {
    if (running.fetch_add(1) != 0) overlaps.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    tx.lookup<Tally>("tally").runs[std::string(p)] += 1;
    running.fetch_sub(1);
  });
  server.start();
  make_tally(server);
  starhold::TaskHandle handle = server
                                    .schedule_periodic("tick", "t", std::chrono::milliseconds(0),
                                                       std::chrono::milliseconds(1))
                                    .get();
  REQUIRE(test::wait_until([&] { return tally(server)["t"] >= 10; }));
  bool cancelled = false;
  test::run(server, [&](starhold::Transaction& tx) { cancelled = tx.cancel(handle); });
  CHECK(cancelled);
  const int at_cancel = tally(server)["t"];
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // At most the run already under way when the cancel committed.
  CHECK(tally(server)["t"] <= at_cancel + 1);
  CHECK(overlaps.load() == 0);
  test::run(server, [&](starhold::Transaction& tx) { CHECK_FALSE(tx.cancel(handle)); });
  CHECK(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
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
