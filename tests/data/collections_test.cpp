// ScalableMap and ScalableSet.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "starhold/collections.hpp"
#include "support/test_support.hpp"

namespace {

struct Player final : starhold::Managed<Player> {
  static constexpr std::string_view type_name = "test.MapPlayer";
  std::string name;
  template <class F>
  void fields(F& f) {
    f(1, name);
  }
};

struct World final : starhold::Managed<World> {
  static constexpr std::string_view type_name = "test.World";
  starhold::ScalableMap<std::string, starhold::Ref<Player>> players;
  starhold::ScalableSet<std::int64_t> online;
  template <class F>
  void fields(F& f) {
    f(1, players);
    f(2, online);
  }
};

std::string key(int i) {
  return "player-" + std::to_string(i);
}

constexpr int kCount = 3000;
constexpr int kThreads = 8, kEach = 300;

// Counts the task bodies running at once and keeps the highest count seen.
class Overlap {
 public:
  class Scope {
   public:
    explicit Scope(Overlap& o) : o_(o) {
      const int now = o_.running_.fetch_add(1) + 1;
      int seen = o_.most_.load();
      while (now > seen && !o_.most_.compare_exchange_weak(seen, now)) {
      }
    }
    ~Scope() { o_.running_.fetch_sub(1); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Overlap& o_;
  };
  int most() const { return most_.load(); }

 private:
  std::atomic<int> running_{0};
  std::atomic<int> most_{0};
};

// Game work inside a task, so that tasks on different workers overlap.
void spin(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

}  // namespace

TEST_CASE("a scalable map stores, finds, replaces and erases thousands of entries") {
  test::TempDir dir;
  test::LogCapture log;
  auto options = test::options_for(dir.path(), log);
  // Tasks of 500 inserts: within any machine's (or sanitizer build's) time.
  options.task_time_limit = std::chrono::seconds(30);
  starhold::Server server(options);
  server.start();
  test::run(server, [](starhold::Transaction& tx) {
    auto& w = tx.create<World>();
    w.players = decltype(w.players)::create(tx);
    w.online = decltype(w.online)::create(tx, 1);
    tx.bind("world", w);
  });
  for (int batch = 0; batch < kCount; batch += 500) {
    test::run(server, [batch](starhold::Transaction& tx) {
      auto& w = tx.lookup<World>("world");
      for (int i = batch; i < batch + 500; ++i) {
        auto& p = tx.create<Player>();
        p.name = key(i);
        CHECK(w.players.put(tx, key(i), p));
        CHECK(w.online.insert(tx, i));
      }
    });
  }
  test::run(server, [](starhold::Transaction& tx) {
    auto& w = tx.lookup<World>("world");
    CHECK(w.players.size(tx) == kCount);
    CHECK(w.online.size(tx) == kCount);
    auto ref = w.players.get(tx, key(1234));
    REQUIRE(ref.has_value());
    CHECK(tx.get(*ref).name == key(1234));
    CHECK_FALSE(w.players.get(tx, "nobody").has_value());
    CHECK(w.online.contains(tx, 2999));
    CHECK_FALSE(w.online.contains(tx, 3000));
    // Replace and erase.
    CHECK_FALSE(w.players.put(tx, key(7), *w.players.get(tx, key(8))));
    CHECK(w.players.erase(tx, key(9)));
    CHECK_FALSE(w.players.erase(tx, key(9)));
    CHECK(w.online.erase(tx, 9));
  });
  // A walk split over several tasks, by cursor, visits every key exactly once.
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  bool done = false;
  while (!done) {
    test::run(server, [&](starhold::Transaction& tx) {
      auto& w = tx.lookup<World>("world");
      for (int i = 0; i < 700; ++i) {
        auto e = w.players.next(tx, cursor);
        if (!e) {
          done = true;
          return;
        }
        CHECK(seen.insert(e->first).second);
        cursor = e->first;
      }
    });
  }
  CHECK(seen.size() == kCount - 1);
  CHECK(seen.count(key(9)) == 0);
  test::run(server, [](starhold::Transaction& tx) {
    auto& w = tx.lookup<World>("world");
    CHECK(tx.get(*w.players.get(tx, key(7))).name == key(8));
    int visited = 0;
    w.online.for_each(tx, [&](std::int64_t) {
      ++visited;
      return visited < 10;  // stops early
    });
    CHECK(visited == 10);
  });
}

TEST_CASE("concurrent inserts and erases of distinct keys rarely conflict") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log, 4));
  server.start();
  test::run(server, [](starhold::Transaction& tx) {
    auto& w = tx.create<World>();
    w.online = decltype(w.online)::create(tx);
    tx.bind("world", w);
  });
  const auto before = server.metrics();
  Overlap overlap;
  std::vector<std::thread> clients;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::future<void>> fs;
      for (int i = 0; i < kEach; ++i) {
        const std::int64_t k = t * kEach + i;
        fs.push_back(server.submit("join", [k, &overlap](starhold::Transaction& tx) {
          Overlap::Scope running(overlap);
          auto& w = tx.lookup<World>("world");
          spin(std::chrono::microseconds(5));
          w.online.insert(tx, k);
          if (k % 3 == 0) w.online.erase(tx, k);  // some leave again at once
        }));
      }
      for (auto& f : fs) {
        try {
          f.get();
        } catch (...) {
          ++failed;
        }
      }
    });
  }
  for (auto& c : clients)
    c.join();
  CHECK(failed.load() == 0);
  test::run(server, [](starhold::Transaction& tx) {
    auto& w = tx.lookup<World>("world");
    CHECK(w.online.size(tx) == kThreads * kEach - kThreads * kEach / 3);
    CHECK(w.online.contains(tx, 1));
    CHECK_FALSE(w.online.contains(tx, 3));
  });
  const auto after = server.metrics();
  const auto attempts = after.attempts_started - before.attempts_started;
  const auto conflicts = after.aborts_conflict - before.aborts_conflict;
  INFO("attempts " << attempts << ", conflicts " << conflicts << "; at most " << overlap.most()
                   << " tasks ran at once");
  CHECK(conflicts * 10 < attempts);
  CHECK(overlap.most() > 1);  // the tasks really ran concurrently
}
