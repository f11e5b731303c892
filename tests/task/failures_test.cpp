// Atomicity of failed tasks, the retry policy, and how failures are reported.
#include <catch2/catch.hpp>

#include <thread>

#include "support/test_support.hpp"

namespace {

struct Note final : starhold::Managed<Note> {
  static constexpr std::string_view type_name = "test.Note";
  std::string text;
  template <class F>
  void fields(F& f) {
    f(1, text);
  }
};

struct MarkerCount {
  std::atomic<int> runs{0};
};

}  // namespace

TEST_CASE("a task that throws leaves no write, no name, no scheduled task and no hook") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  std::atomic<int> handler_runs{0};
  server.handle("later", [&](starhold::Transaction&, std::string_view) { ++handler_runs; });
  server.start();
  starhold::Ref<Note> note;
  test::run(server, [&](starhold::Transaction& tx) {
    auto& n = tx.create<Note>();
    n.text = "before";
    note = n;
  });

  std::atomic<int> hooks{0};
  auto f = server.submit("doomed", [&](starhold::Transaction& tx) {
    tx.get(note).text = "changed";
    tx.bind("new-name", tx.create<Note>());
    tx.schedule("later", "", std::chrono::milliseconds(0));
    tx.on_commit([&] { ++hooks; });
    throw std::runtime_error("game rule violated");
  });
  try {
    f.get();
    FAIL("the task must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::exception);
    CHECK(e.task() == "doomed");
    CHECK(std::string(e.what()).find("game rule violated") != std::string::npos);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  test::run(server, [&](starhold::Transaction& tx) {
    CHECK(tx.get(note).text == "before");
    CHECK(tx.find<Note>("new-name") == nullptr);
  });
  CHECK(handler_runs.load() == 0);
  CHECK(hooks.load() == 0);
  auto m = server.metrics();
  CHECK(m.aborts_exception == 1);
  CHECK(m.tasks_failed == 1);
  // Logged with the task's name and the cause.
  CHECK(log.count({"doomed", "game rule violated"}) == 1);
}

TEST_CASE("a task past its time limit is aborted, retried, then failed with nothing left behind") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = std::make_shared<starhold::ShiftedClock>();
  auto options = test::options_for(dir.path(), log);
  options.clock = clock;
  options.task_time_limit = std::chrono::milliseconds(30);
  options.max_timeout_retries = 1;
  starhold::Server server(options);
  server.handle("later", [](starhold::Transaction&, std::string_view) {});
  server.start();
  starhold::Ref<Note> note;
  test::run(server, [&](starhold::Transaction& tx) { note = tx.create<Note>(); });

  std::atomic<int> attempts{0};
  auto f = server.submit("slow", [&](starhold::Transaction& tx) {
    ++attempts;
    tx.get(note).text = "slow wrote this";
    tx.schedule("later", "", std::chrono::hours(1));
    clock->advance(std::chrono::milliseconds(60));  // the attempt takes too long
    // Game code that swallows everything still cannot keep the attempt alive.
    try {
      tx.create<Note>();
    } catch (...) {
    }
  });
  try {
    f.get();
    FAIL("the task must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::timeout);
  }
  CHECK(attempts.load() == 2);
  test::run(server, [&](starhold::Transaction& tx) { CHECK(tx.get(note).text.empty()); });
  auto m = server.metrics();
  CHECK(m.aborts_timeout == 2);
  CHECK(m.scheduled_pending == 0);
  CHECK(log.count({"slow", "time limit"}) >= 2);
}

TEST_CASE("a task that keeps conflicting fails after the configured retries") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log, 2);
  options.max_conflict_retries = 3;
  starhold::Server server(options);
  server.start();
  starhold::Ref<Note> note;
  test::run(server, [&](starhold::Transaction& tx) { note = tx.create<Note>(); });

  // Each attempt of "victim" reads the name "flag", then has another task
  // rebind it before committing: its validation must fail every time.
  test::run(server, [&](starhold::Transaction& tx) { tx.bind("flag", tx.get(note)); });
  std::atomic<int> attempts{0};
  auto f = server.submit("victim", [&](starhold::Transaction& tx) {
    ++attempts;
    (void)tx.lookup<Note>("flag");
    tx.get(note).text = "victim";
    server
        .submit("intruder",
                [&](starhold::Transaction& tx2) { tx2.bind("flag", tx2.create<Note>()); })
        .get();
  });
  try {
    f.get();
    FAIL("the task must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::conflict);
    CHECK(std::string(e.what()).find("name 'flag'") != std::string::npos);
  }
  CHECK(attempts.load() == 4);
  test::run(server, [&](starhold::Transaction& tx) { CHECK(tx.get(note).text.empty()); });
  CHECK(server.metrics().aborts_conflict == 4);
}

TEST_CASE("a Transaction cannot be used after its task ended") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  starhold::Transaction* kept = nullptr;
  test::run(server, [&](starhold::Transaction& tx) { kept = &tx; });
  REQUIRE(kept != nullptr);
  CHECK_THROWS_AS(kept->create<Note>(), starhold::UsageError);
}
