// Conveniences a first outside program asked for: a value from the committed
// attempt, lookup_for_update, per-task time limits, a handler's own handle,
// and opening a store without running its stored tasks.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>

#include "support/test_support.hpp"

namespace {

struct Counter final : starhold::Managed<Counter> {
  static constexpr std::string_view type_name = "test.ConvenienceCounter";
  std::int64_t value = 0;
  template <class F>
  void fields(F& f) {
    f(1, value);
  }
};

}  // namespace

TEST_CASE("submit returns the value of the attempt that committed") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log, 2));
  server.start();
  starhold::Ref<Counter> counter;
  test::run(server, [&](starhold::Transaction& tx) {
    auto& c = tx.create<Counter>();
    c.value = 1;
    counter = c;
  });

  // The first attempt reads 1, then another task sets 5 before it commits:
  // the first attempt conflicts, and only the second one's value counts.
  std::future<std::int64_t> f = server.submit("read", [&](starhold::Transaction& tx) {
    const std::int64_t seen = tx.get(counter).value;
    if (tx.attempt() == 1) {
      server.submit("bump", [&](starhold::Transaction& t2) { t2.get(counter).value = 5; }).get();
    }
    tx.get(counter).value = seen + 1;
    return seen * 10 + tx.attempt();
  });
  CHECK(f.get() == 52);
  test::run(server, [&](starhold::Transaction& tx) { CHECK(tx.get(counter).value == 6); });

  // A failed task's future holds its TaskFailed.
  auto failing = server.submit("fails", [](starhold::Transaction&) -> std::string {
    throw std::runtime_error("no value today");
  });
  CHECK_THROWS_AS(failing.get(), starhold::TaskFailed);
}

TEST_CASE("lookup_for_update finds a bound object, or throws NameNotBound") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  test::run(server, [](starhold::Transaction& tx) { tx.bind("c", tx.create<Counter>()); });
  test::run(server, [](starhold::Transaction& tx) {
    tx.lookup_for_update<Counter>("c").value = 7;
    CHECK_THROWS_AS(tx.lookup_for_update<Counter>("nobody"), starhold::NameNotBound);
  });
  test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Counter>("c").value == 7); });

  // Declared for update, a second writer waits for the first instead of
  // reading the old value and conflicting when it commits.
  std::promise<void> holding, go;
  std::shared_future<void> go_signal = go.get_future().share();
  auto first = server.submit(
      "first",
      [&](starhold::Transaction& tx) {
        tx.lookup_for_update<Counter>("c").value += 1;
        if (tx.attempt() == 1) {
          holding.set_value();
          go_signal.wait();
        }
      },
      starhold::TaskOptions{std::chrono::seconds(60)});  // it waits for the test
  holding.get_future().wait();
  auto second = server.submit(
      "second", [&](starhold::Transaction& tx) { tx.lookup_for_update<Counter>("c").value += 10; });
  CHECK(test::wait_until([&] { return server.metrics().hot_waits >= 1; }, std::chrono::seconds(5)));
  go.set_value();
  first.get();
  second.get();
  test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Counter>("c").value == 18); });
  CHECK(server.metrics().aborts_conflict == 0);
}

TEST_CASE("a task or a handler may have a time limit of its own") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = std::make_shared<starhold::ShiftedClock>();
  auto options = test::options_for(dir.path(), log);
  options.clock = clock;
  options.task_time_limit = std::chrono::milliseconds(100);
  options.max_timeout_retries = 0;
  starhold::Server server(options);
  std::atomic<int> maintenance_runs{0};
  const starhold::TaskOptions long_work{std::chrono::seconds(10)};
  server.handle(
      "maintenance",
      [&](starhold::Transaction& tx, std::string_view) {
        clock->advance(std::chrono::seconds(1));  // far past the server's limit
        tx.bind("maintained", tx.create<Counter>());
        ++maintenance_runs;
      },
      long_work);
  CHECK_THROWS_AS(server.handle(
                      "negative", [](starhold::Transaction&, std::string_view) {},
                      starhold::TaskOptions{std::chrono::milliseconds(-1)}),
                  starhold::UsageError);
  server.start();

  auto slow = [&](starhold::Transaction& tx) {
    clock->advance(std::chrono::seconds(1));
    tx.create<Counter>();
  };
  CHECK_NOTHROW(server.submit("long", slow, long_work).get());
  try {
    server.submit("short", slow).get();
    FAIL("a task past the server's time limit must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::timeout);
  }
  CHECK(log.count({"'short'", "time limit of 100 ms"}) >= 1);

  server.schedule("maintenance", "").get();
  REQUIRE(test::wait_until([&] { return maintenance_runs.load() == 1; }));
  REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
  test::run(server, [](starhold::Transaction& tx) { CHECK(tx.find<Counter>("maintained")); });
  CHECK(server.metrics().aborts_timeout == 1);  // "short" only
  CHECK_THROWS_AS(
      server.submit("negative", slow, starhold::TaskOptions{std::chrono::milliseconds(-5)}),
      starhold::UsageError);
}

TEST_CASE("a handler knows its own task handle and may cancel itself") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = std::make_shared<starhold::ShiftedClock>();
  auto options = test::options_for(dir.path(), log);
  options.clock = clock;
  starhold::Server server(options);
  std::atomic<int> runs{0};  // committed runs
  std::atomic<std::uint64_t> seen_handle{0};
  server.handle("tick", [&](starhold::Transaction& tx, std::string_view) {
    const std::uint64_t handle = tx.task_handle().id.value;
    const int run = runs.load() + 1;
    if (run == 2) CHECK(tx.cancel(tx.task_handle()));
    tx.on_commit([&, handle] {
      seen_handle = handle;
      ++runs;
    });
  });
  server.start();
  const starhold::TaskHandle h =
      server.schedule_periodic("tick", "", std::chrono::milliseconds(0), std::chrono::hours(1))
          .get();
  REQUIRE(test::wait_until([&] { return runs.load() == 1; }));
  CHECK(seen_handle.load() == h.id.value);
  REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 1; }));
  clock->advance(std::chrono::hours(1));
  REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
  REQUIRE(test::wait_until([&] { return runs.load() == 2; }));
  // A submitted task is no durable task's run.
  test::run(server, [](starhold::Transaction& tx) { CHECK_FALSE(tx.task_handle()); });
}

TEST_CASE("a store opened with run_stored_tasks off keeps its tasks for a later server") {
  test::TempDir dir;
  test::LogCapture log;
  std::atomic<int> runs{0};
  auto handler = [&](starhold::Transaction& tx, std::string_view payload) {
    tx.lookup_for_update<Counter>("c").value += std::stoi(std::string(payload));
    tx.on_commit([&] { ++runs; });
  };
  {
    auto options = test::options_for(dir.path(), log);
    options.run_stored_tasks = false;
    starhold::Server server(options);
    server.handle("add", handler);
    server.start();
    test::run(server, [](starhold::Transaction& tx) {
      tx.bind("c", tx.create<Counter>());
      tx.schedule("add", "3");  // due at once, stored, not run here
    });
    server.schedule("add", "4").get();
    test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Counter>("c").value == 0); });
  }
  {
    // A tool that registers no handler may open the store.
    auto options = test::options_for(dir.path(), log);
    options.run_stored_tasks = false;
    starhold::Server tool(options);
    tool.start();
    test::run(tool, [](starhold::Transaction& tx) { CHECK(tx.lookup<Counter>("c").value == 0); });
  }
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.handle("add", handler);
    server.start();
    REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
    test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Counter>("c").value == 7); });
    REQUIRE(test::wait_until([&] { return runs.load() == 2; }));
  }
}
