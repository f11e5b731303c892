// The store under the data service: growth, limits, a full disk, format
// versions and exclusive use.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "support/gated_store.hpp"
#include "support/test_support.hpp"

namespace {

struct Blob final : starhold::Managed<Blob> {
  static constexpr std::string_view type_name = "test.Blob";
  std::string bytes;
  template <class F>
  void fields(F& f) {
    f(1, bytes);
  }
};

// Wraps a real store and fails chosen writes as a full disk would.
class FaultyStore final : public starhold::Store {
 public:
  explicit FaultyStore(std::unique_ptr<starhold::Store> inner) : inner_(std::move(inner)) {}
  std::atomic<int> fail_writes{0};  // the next n writes fail
  std::atomic<int> failed{0};

  bool get(starhold::Table t, std::string_view k, std::string& v) override {
    return inner_->get(t, k, v);
  }
  bool next(starhold::Table t, std::string_view after, bool inclusive, std::string& k,
            std::string& v) override {
    return inner_->next(t, after, inclusive, k, v);
  }
  void write(std::span<const starhold::StoreWrite> writes) override {
    if (fail_writes.load() > 0) {
      fail_writes.fetch_sub(1);
      failed.fetch_add(1);
      throw starhold::StoreFull("write failed: No space left on device");
    }
    inner_->write(writes);
  }
  starhold::StoreStats stats() override { return inner_->stats(); }

 private:
  std::unique_ptr<starhold::Store> inner_;
};

}  // namespace

TEST_CASE("the store grows past its initial map without failing a commit") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log);
  options.initial_store_bytes = std::size_t{1} << 20;
  starhold::Server server(options);
  server.start();
  std::vector<std::future<void>> writes;
  for (int i = 0; i < 400; ++i) {
    writes.push_back(server.submit("fill", [i](starhold::Transaction& tx) {
      auto& b = tx.create<Blob>();
      b.bytes.assign(20000, static_cast<char>('a' + i % 26));
      tx.bind("blob." + std::to_string(i), b);
    }));
  }
  for (auto& f : writes)
    CHECK_NOTHROW(f.get());
  auto m = server.metrics();
  CHECK(m.store_resizes >= 3);
  CHECK(m.store_bytes > (std::size_t{7} << 20));
  test::run(server, [](starhold::Transaction& tx) {
    CHECK(tx.lookup<Blob>("blob.399").bytes ==
          std::string(20000, static_cast<char>('a' + 399 % 26)));
  });
}

TEST_CASE("at its size limit the store fails writes clearly and reads go on") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log);
  options.initial_store_bytes = std::size_t{1} << 20;
  options.max_store_bytes = std::size_t{2} << 20;
  starhold::Server server(options);
  server.start();
  std::vector<int> committed;
  bool hit_limit = false;
  for (int i = 0; i < 400 && !hit_limit; ++i) {
    try {
      test::run(server, [i](starhold::Transaction& tx) {
        auto& b = tx.create<Blob>();
        b.bytes.assign(20000, 'x');
        tx.bind("blob." + std::to_string(i), b);
      });
      committed.push_back(i);
    } catch (const starhold::TaskFailed& e) {
      CHECK(e.cause() == starhold::TaskFailed::Cause::storage);
      CHECK(std::string(e.what()).find("size limit") != std::string::npos);
      hit_limit = true;
    }
  }
  REQUIRE(hit_limit);
  REQUIRE(committed.size() > 10);
  // Every reported commit is still readable.
  test::run(server, [&](starhold::Transaction& tx) {
    for (int i : committed)
      CHECK(tx.lookup<Blob>("blob." + std::to_string(i)).bytes.size() == 20000);
  });
  CHECK(log.count({"size limit"}) >= 1);
}

TEST_CASE("a full disk fails the affected commits, and nothing reported is lost") {
  test::TempDir dir;
  test::LogCapture log;
  auto faulty = std::make_unique<FaultyStore>(starhold::open_lmdb_store({dir.path()}));
  FaultyStore* store = faulty.get();
  starhold::Server server(test::options_for(dir.path(), log), std::move(faulty));
  server.start();
  test::run(server, [](starhold::Transaction& tx) {
    auto& b = tx.create<Blob>();
    b.bytes = "v1";
    tx.bind("doc", b);
  });

  store->fail_writes = 1;
  auto f = server.submit("update", [](starhold::Transaction& tx) {
    tx.lookup<Blob>("doc").bytes = "v2";
    tx.bind("new", tx.create<Blob>());
  });
  try {
    f.get();
    FAIL("the commit must fail");
  } catch (const starhold::TaskFailed& e) {
    CHECK(e.cause() == starhold::TaskFailed::Cause::storage);
    CHECK(std::string(e.what()).find("No space left") != std::string::npos);
  }
  CHECK(store->failed.load() == 1);
  // The failed commit's changes are gone from memory too, and work goes on.
  test::run(server, [](starhold::Transaction& tx) {
    CHECK(tx.lookup<Blob>("doc").bytes == "v1");
    CHECK(tx.find<Blob>("new") == nullptr);
    tx.lookup<Blob>("doc").bytes = "v3";
  });
  test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Blob>("doc").bytes == "v3"); });
  CHECK(server.metrics().aborts_storage == 1);
}

TEST_CASE("tasks that read a failed commit's writes fail with it") {
  test::TempDir dir;
  test::LogCapture log;
  auto faulty = std::make_unique<FaultyStore>(starhold::open_lmdb_store({dir.path()}));
  FaultyStore* store = faulty.get();
  starhold::Server server(test::options_for(dir.path(), log, 2), std::move(faulty));
  server.start();
  test::run(server, [](starhold::Transaction& tx) { tx.bind("doc", tx.create<Blob>()); });
  // Many appends in flight while every write fails for a while: whatever
  // reports success must be in the final text, exactly once, in order.
  store->fail_writes = 3;
  std::vector<std::future<void>> fs;
  for (int i = 0; i < 200; ++i) {
    fs.push_back(server.submit("append", [i](starhold::Transaction& tx) {
      tx.lookup<Blob>("doc").bytes += fmt::format("<{}>", i);
    }));
  }
  std::vector<int> ok;
  int failed = 0;
  for (int i = 0; i < 200; ++i) {
    try {
      fs[static_cast<std::size_t>(i)].get();
      ok.push_back(i);
    } catch (const starhold::TaskFailed& e) {
      CHECK(e.cause() == starhold::TaskFailed::Cause::storage);
      ++failed;
    }
  }
  CHECK(failed > 0);
  std::string text;
  test::run(server, [&](starhold::Transaction& tx) { text = tx.lookup<Blob>("doc").bytes; });
  std::size_t count = 0;
  for (int i : ok) {
    const std::string mark = fmt::format("<{}>", i);
    const auto at = text.find(mark);
    CHECK(at != std::string::npos);
    CHECK(text.find(mark, at + 1) == std::string::npos);
    ++count;
  }
  // Nothing that failed is in the text.
  std::size_t marks = 0;
  for (char c : text)
    marks += c == '<' ? 1 : 0;
  CHECK(marks == count);
}

TEST_CASE("a store written by another format version is refused") {
  test::TempDir dir;
  {
    auto store = starhold::open_lmdb_store({dir.path()});
    std::string v = "99";
    std::vector<starhold::StoreWrite> w{{starhold::Table::meta, "format", &v}};
    store->write(w);
  }
  test::LogCapture log;
  CHECK_THROWS_AS(starhold::Server(test::options_for(dir.path(), log)), starhold::StoreFormatError);
  CHECK_THROWS_WITH(starhold::Server(test::options_for(dir.path(), log)),
                    Catch::Contains("format 99"));
}

TEST_CASE("a store cannot be opened by two servers at once") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server first(test::options_for(dir.path(), log));
  CHECK_THROWS_AS(starhold::Server(test::options_for(dir.path(), log)), starhold::StoreError);
  CHECK_THROWS_WITH(starhold::Server(test::options_for(dir.path(), log)),
                    Catch::Contains("already open"));
}

TEST_CASE("metrics can be read from any thread while the store grows") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log);
  options.initial_store_bytes = std::size_t{1} << 20;
  starhold::Server server(options);
  server.start();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto m = server.metrics();
        reads += m.store_resizes + 1 > 0 ? 1 : 0;
      }
    });
  }
  std::vector<std::future<void>> writes;
  for (int i = 0; i < 1500; ++i) {
    writes.push_back(server.submit(
        "fill", [](starhold::Transaction& tx) { tx.create<Blob>().bytes.assign(20000, 'x'); }));
  }
  for (auto& f : writes)
    f.get();
  done = true;
  for (auto& t : readers)
    t.join();
  CHECK(server.metrics().store_resizes >= 4);
  CHECK(reads.load() > 0);
}

TEST_CASE("a store that fails fatally takes no more writes, keeps serving reads, and says so") {
  test::TempDir dir;
  test::LogCapture log;
  std::atomic<int> chores{0};  // attempts of the durable task
  int chores_before_restart = 0;
  std::promise<void> go;
  std::shared_future<void> go_signal = go.get_future().share();
  auto chore = [&](starhold::Transaction& tx, std::string_view) {
    if (++chores == 1) go_signal.wait();
    tx.lookup<Blob>("doc").bytes += "+";
  };
  {
    starhold::LmdbOptions lmdb;
    lmdb.path = dir.sub("store");
    auto gated = std::make_unique<test::GatedStore>(starhold::open_lmdb_store(lmdb));
    test::GatedStore* store = gated.get();
    auto options = test::options_for(dir.path(), log);
    options.task_time_limit = std::chrono::seconds(60);
    starhold::Server server(options, std::move(gated));
    server.handle("chore", chore);
    server.start();
    test::run(server, [](starhold::Transaction& tx) {
      auto& b = tx.create<Blob>();
      b.bytes = "v1";
      tx.bind("doc", b);
    });
    server.schedule("chore", "").get();  // runs at once, and waits for go
    REQUIRE(test::wait_until([&] { return chores.load() == 1; }));
    CHECK(server.health().store_writable);

    store->fail_next(1, [] {
      return std::make_exception_ptr(starhold::StoreFatal("LMDB commit failed: MDB_PANIC"));
    });
    CHECK_THROWS_AS(
        test::run(server, [](starhold::Transaction& tx) { tx.lookup<Blob>("doc").bytes = "v2"; }),
        starhold::TaskFailed);
    const starhold::Health h = server.health();
    CHECK_FALSE(h.store_writable);
    CHECK(h.store_error.find("MDB_PANIC") != std::string::npos);

    // Writes now fail at once, without reaching the store.
    const int store_failures = store->writes_failed();
    try {
      test::run(server, [](starhold::Transaction& tx) { tx.lookup<Blob>("doc").bytes = "v3"; });
      FAIL("a write must fail while the store is fatal");
    } catch (const starhold::TaskFailed& e) {
      CHECK(e.cause() == starhold::TaskFailed::Cause::storage);
      CHECK(std::string(e.what()).find("MDB_PANIC") != std::string::npos);
    }
    CHECK(store->writes_failed() == store_failures);
    // Reads, and tasks that only read, go on.
    test::run(server,
              [](starhold::Transaction& tx) { CHECK(tx.lookup<Blob>("doc").bytes == "v1"); });

    // The durable task cannot write either: it stays stored, disarmed until a restart.
    go.set_value();
    REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
    CHECK(log.count({"chore", "stays stored"}) == 1);
    chores_before_restart = chores.load();
  }
  // Restarted on a healthy store, the durable task runs.
  starhold::Server server(test::options_for(dir.sub("store"), log));
  server.handle("chore", chore);
  server.start();
  CHECK(server.health().store_writable);
  REQUIRE(test::wait_until([&] { return server.metrics().scheduled_pending == 0; }));
  CHECK(chores.load() == chores_before_restart + 1);
  test::run(server,
            [](starhold::Transaction& tx) { CHECK(tx.lookup<Blob>("doc").bytes == "v1+"); });
}

TEST_CASE(
    "a store that throws a foreign exception, or keeps failing, turns fatal; the server lives") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::LmdbOptions lmdb;
  lmdb.path = dir.sub("store");
  auto gated = std::make_unique<test::GatedStore>(starhold::open_lmdb_store(lmdb));
  test::GatedStore* store = gated.get();
  starhold::Server server(test::options_for(dir.path(), log), std::move(gated));
  server.start();
  test::run(server, [](starhold::Transaction& tx) { tx.bind("doc", tx.create<Blob>()); });

  SECTION("a foreign exception") {
    store->fail_next(1, [] { return std::make_exception_ptr(std::logic_error("driver bug")); });
    CHECK_THROWS_AS(
        test::run(server, [](starhold::Transaction& tx) { tx.lookup<Blob>("doc").bytes = "x"; }),
        starhold::TaskFailed);
    CHECK(server.health().store_error.find("driver bug") != std::string::npos);
  }
  SECTION("the same error, batch after batch") {
    store->fail_next(3, [] { return std::make_exception_ptr(starhold::StoreError("EAGAIN")); });
    for (int i = 0; i < 3; ++i) {
      CHECK(server.health().store_writable);
      CHECK_THROWS_AS(
          test::run(server, [](starhold::Transaction& tx) { tx.lookup<Blob>("doc").bytes += "x"; }),
          starhold::TaskFailed);
    }
    CHECK_FALSE(server.health().store_writable);
    CHECK(server.health().store_error.find("3 store writes failed in a row") != std::string::npos);
  }
  CHECK(server.health().running);
  test::run(server, [](starhold::Transaction& tx) { CHECK(tx.lookup<Blob>("doc").bytes.empty()); });
}
