// Nothing grows without a bound under load: submitted tasks, attempts parked
// on a hot object, commits waiting for the disk; and a task whose fiber
// cannot get a stack fails alone.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "support/gated_store.hpp"
#include "support/test_support.hpp"

namespace {

struct Counter final : starhold::Managed<Counter> {
  static constexpr std::string_view type_name = "test.bounds.Counter";
  std::int64_t value = 0;
  std::string padding;
  template <class F>
  void fields(F& f) {
    f(1, value);
    f(2, padding);
  }
};

}  // namespace

TEST_CASE("submit refuses past max_pending_tasks, and takes tasks again once they finish") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log, 2);
  options.max_pending_tasks = 10;
  options.task_time_limit = std::chrono::seconds(60);
  starhold::Server server(options);
  server.start();
  std::promise<void> go;
  std::shared_future<void> go_signal = go.get_future().share();
  std::vector<std::future<void>> tasks;
  for (int i = 0; i < 10; ++i)
    tasks.push_back(server.submit("wait", [&](starhold::Transaction&) { go_signal.wait(); }));
  CHECK(server.metrics().tasks_pending == 10);
  CHECK_THROWS_AS(server.submit("one too many", [](starhold::Transaction&) {}),
                  starhold::Overloaded);
  go.set_value();
  for (auto& f : tasks)
    f.get();
  REQUIRE(test::wait_until([&] { return server.metrics().tasks_pending == 0; }));
  CHECK_NOTHROW(server.submit("again", [](starhold::Transaction&) {}).get());
}

TEST_CASE("attempts parked on a hot object are bounded; the rest run on and lose no update") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log, 2);
  options.max_parked_attempts = 2;
  options.task_time_limit = std::chrono::seconds(60);
  starhold::Server server(options);
  server.start();
  starhold::Ref<Counter> counter;
  test::run(server, [&](starhold::Transaction& tx) { counter = tx.create<Counter>(); });

  // The holder takes the counter's token and keeps it until told.
  std::promise<void> held, go;
  std::shared_future<void> go_signal = go.get_future().share();
  auto holder = server.submit("holder", [&](starhold::Transaction& tx) {
    ++tx.get_for_update(counter).value;
    if (tx.attempt() == 1) {
      held.set_value();
      go_signal.wait();
    }
  });
  held.get_future().wait();
  std::vector<std::future<void>> others;
  for (int i = 0; i < 10; ++i) {
    others.push_back(server.submit(
        "inc", [&](starhold::Transaction& tx) { ++tx.get_for_update(counter).value; }));
  }
  // Two wait behind the holder; the other eight commit without waiting.
  std::atomic<int> finished{0};
  std::thread watch([&] {
    for (std::size_t i = 0; i < others.size(); ++i) {
      if (others[i].wait_for(std::chrono::seconds(20)) == std::future_status::ready) ++finished;
    }
  });
  REQUIRE(test::wait_until([&] { return server.metrics().tasks_committed >= 1 + 8; }));
  CHECK(server.metrics().attempts_parked == 2);
  go.set_value();
  watch.join();
  holder.get();
  for (auto& f : others)
    f.get();
  CHECK(finished.load() == 10);
  test::run(server, [&](starhold::Transaction& tx) { CHECK(tx.get(counter).value == 11); });
  CHECK(server.metrics().attempts_parked == 0);
}

TEST_CASE("a task whose fiber cannot get a stack fails as an overload, not the process") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log, 2);
  options.task_stack_bytes = std::size_t{1} << 47;  // more than the address space
  starhold::Server server(options);
  // start() runs a task of its own, which cannot get a stack either.
  try {
    server.start();
    FAIL("start must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::overload);
    CHECK(std::string(e.what()).find("stack") != std::string::npos);
  }
  CHECK(server.metrics().tasks_failed == 1);
  CHECK_FALSE(server.health().running);
}

TEST_CASE("commits wait while those not yet durable hold more bytes than their bound") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log, 4);
  constexpr std::size_t kBound = std::size_t{1} << 20;
  constexpr std::size_t kRecord = 100000;
  options.max_pending_commit_bytes = kBound;
  options.task_time_limit = std::chrono::seconds(60);
  starhold::LmdbOptions lmdb;
  lmdb.path = dir.sub("store");
  auto gated = std::make_unique<test::GatedStore>(starhold::open_lmdb_store(lmdb));
  test::GatedStore* store = gated.get();
  starhold::Server server(options, std::move(gated));
  server.start();

  store->hold();
  std::vector<std::future<void>> writes;
  for (int i = 0; i < 30; ++i) {
    writes.push_back(server.submit("blob", [](starhold::Transaction& tx) {
      tx.create<Counter>().padding.assign(kRecord, 'x');
    }));
  }
  REQUIRE(store->wait_held());
  REQUIRE(test::wait_until([&] { return server.metrics().commit_bytes_pending >= kBound; }));
  // Every worker now waits at commit: nothing more is let in.
  const auto m = server.metrics();
  REQUIRE(
      test::wait_until([&] { return server.metrics().attempts_started >= m.commits_pending + 4; }));
  const auto later = server.metrics();
  CHECK(later.commits_pending == m.commits_pending);
  CHECK(later.commit_bytes_pending < kBound + 2 * kRecord);
  CHECK(later.commits_pending < 30);
  store->release();
  for (auto& f : writes)
    f.get();
  CHECK(test::wait_until([&] { return server.metrics().commit_bytes_pending == 0; }));
}
