// OrderedMap and OrderedSet: key order, counts, walks, persistence, concurrency.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "starhold/ordered_map.hpp"
#include "support/test_support.hpp"

namespace {

static_assert(starhold::OrderedKey<std::tuple<std::int8_t, std::string, std::uint64_t>>);
static_assert(starhold::OrderedKey<std::pair<starhold::Descending<std::int32_t>, std::string>>);
static_assert(!starhold::OrderedKey<double>);  // OrderedMap<double, V> fails to compile
static_assert(!starhold::OrderedKey<std::pair<std::string, float>>);
static_assert(!starhold::OrderedKey<bool>);

using Map = starhold::OrderedMap<std::int32_t, std::int64_t>;
using Entry = Map::Entry;
using Model = std::map<std::int32_t, std::int64_t>;

struct Holder final : starhold::Managed<Holder> {
  static constexpr std::string_view type_name = "test.OrderedHolder";
  Map map;
  template <class F>
  void fields(F& f) {
    f(1, map);
  }
};

starhold::ServerOptions options(const test::TempDir& dir, test::LogCapture& log, int workers = 4) {
  auto o = test::options_for(dir.path(), log, workers);
  o.task_time_limit = std::chrono::seconds(30);  // thousands of operations per task
  return o;
}

Map& map_of(starhold::Transaction& tx) {
  return tx.lookup<Holder>("holder").map;
}

void make_map(starhold::Server& server) {
  test::run(server, [](starhold::Transaction& tx) {
    auto& h = tx.create<Holder>();
    h.map = Map::create(tx);
    tx.bind("holder", h);
  });
}

// What the map answers, read in one task, to compare with the model outside it.
struct Observed {
  std::uint64_t size = 0;
  std::vector<Entry> forward, backward;
  std::optional<Entry> first, last, past_end;
  std::vector<std::optional<Entry>> lower, next, prev, at;
  std::vector<std::uint64_t> rank;
  std::vector<std::optional<std::int64_t>> get;
};

std::optional<Entry> model_entry(const Model& m, Model::const_iterator it) {
  if (it == m.end()) return std::nullopt;
  return *it;
}

std::optional<Entry> model_prev(const Model& m, std::int32_t k) {
  auto it = m.lower_bound(k);
  if (it == m.begin()) return std::nullopt;
  return *std::prev(it);
}

void check_against(starhold::Server& server, const Model& model, std::mt19937& rng) {
  std::uniform_int_distribution<std::int32_t> key(-21000, 21000);
  std::vector<std::int32_t> probes;
  for (int i = 0; i < 40; ++i)
    probes.push_back(key(rng));
  for (auto it = model.begin(); it != model.end() && probes.size() < 60; std::advance(it, 97))
    probes.push_back(it->first);
  Observed o;
  test::run(server, [&](starhold::Transaction& tx) {
    o = Observed{};
    const Map& m = map_of(tx);
    o.size = m.size(tx);
    m.for_each(tx, [&](std::int32_t k, std::int64_t v) { o.forward.emplace_back(k, v); });
    m.for_each_reverse(tx, [&](std::int32_t k, std::int64_t v) { o.backward.emplace_back(k, v); });
    o.first = m.first(tx);
    o.last = m.last(tx);
    o.past_end = m.at(tx, o.size);
    for (auto k : probes) {
      o.lower.push_back(m.lower_bound(tx, k));
      o.next.push_back(m.next(tx, k));
      o.prev.push_back(m.prev(tx, k));
      o.rank.push_back(m.rank(tx, k));
      o.at.push_back(m.at(tx, o.rank.back()));
      o.get.push_back(m.get(tx, k));
    }
  });
  const std::vector<Entry> expected(model.begin(), model.end());
  REQUIRE(o.size == model.size());
  REQUIRE(o.forward == expected);
  REQUIRE(o.backward == std::vector<Entry>(expected.rbegin(), expected.rend()));
  CHECK(o.first == model_entry(model, model.begin()));
  CHECK(o.last == (model.empty() ? std::nullopt : std::optional<Entry>(*model.rbegin())));
  CHECK_FALSE(o.past_end.has_value());
  for (std::size_t i = 0; i < probes.size(); ++i) {
    const auto k = probes[i];
    INFO("probe " << k);
    const auto lb = model.lower_bound(k);
    CHECK(o.lower[i] == model_entry(model, lb));
    CHECK(o.next[i] == model_entry(model, model.upper_bound(k)));
    CHECK(o.prev[i] == model_prev(model, k));
    CHECK(o.rank[i] == static_cast<std::uint64_t>(std::distance(model.begin(), lb)));
    CHECK(o.at[i] == model_entry(model, lb));
    CHECK(o.get[i] ==
          (lb != model.end() && lb->first == k ? std::optional(lb->second) : std::nullopt));
  }
}

struct Op {
  bool put;
  std::int32_t key;
  std::int64_t value;
};

// Applies ops in one task; checks what put/erase returned against the model.
void apply(starhold::Server& server, const std::vector<Op>& ops, Model& model) {
  std::vector<bool> results;
  test::run(server, [&](starhold::Transaction& tx) {
    results.clear();
    Map& m = map_of(tx);
    for (const auto& op : ops)
      results.push_back(op.put ? m.put(tx, op.key, op.value) : m.erase(tx, op.key));
  });
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& op = ops[i];
    const bool present = model.count(op.key) != 0;
    CHECK(results[i] == (op.put ? !present : present));
    if (op.put) {
      model[op.key] = op.value;
    } else {
      model.erase(op.key);
    }
  }
}

std::vector<Op> random_ops(std::mt19937& rng, int count, double put_share, const Model& model) {
  std::uniform_int_distribution<std::int32_t> key(-20000, 20000);
  std::bernoulli_distribution put(put_share);
  std::vector<Op> ops;
  for (int i = 0; i < count; ++i) {
    std::int32_t k = key(rng);
    const bool p = put(rng);
    if (!p && !model.empty() && i % 2 == 0) {
      auto it = model.lower_bound(k);  // mostly erase keys that are there
      if (it != model.end()) k = it->first;
    }
    ops.push_back(Op{p, k, static_cast<std::int64_t>(rng())});
  }
  return ops;
}

std::uint32_t height(starhold::Server& server) {
  std::uint32_t h = 0;
  test::run(server, [&](starhold::Transaction& tx) { h = tx.get(map_of(tx).root()).height; });
  return h;
}

}  // namespace

TEST_CASE("an ordered map matches a std::map through thousands of random puts and erases") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(options(dir, log));
  server.start();
  make_map(server);
  std::mt19937 rng(20240611);
  Model model;
  // Grow to thousands of entries (three levels), shrink, then empty it.
  for (int round = 0; round < 16; ++round) {
    apply(server, random_ops(rng, 600, 0.85, model), model);
    check_against(server, model, rng);
  }
  CHECK(height(server) >= 2);
  // Trim ranges in key order, as a log drops its oldest lines: whole leaves empty out.
  std::vector<Op> trim;
  for (auto it = model.lower_bound(-8000); it != model.lower_bound(-2000); ++it)
    trim.push_back(Op{false, it->first, 0});
  for (auto it = model.lower_bound(9000); it != model.lower_bound(3000); --it)
    trim.push_back(Op{false, it->first, 0});
  apply(server, trim, model);
  check_against(server, model, rng);
  for (int round = 0; round < 16; ++round) {
    apply(server, random_ops(rng, 600, 0.2, model), model);
    check_against(server, model, rng);
  }
  std::vector<Op> all;
  for (const auto& [k, v] : model)
    all.push_back(Op{false, k, 0});
  std::shuffle(all.begin(), all.end(), rng);
  apply(server, all, model);
  check_against(server, model, rng);
  CHECK(height(server) == 0);
  apply(server, random_ops(rng, 100, 1.0, model), model);
  check_against(server, model, rng);
}

TEST_CASE("ordered keys sort negative integers, strings and tuples in their own order") {
  using starhold::Descending;
  // Every integer width, signed and unsigned, and strings with zero bytes:
  // byte order of the stored form is the key's order, both ways round.
  auto agrees = [](const auto& a, const auto& b) {
    using starhold::detail::encode_key;
    return (a < b) == (encode_key(a) < encode_key(b)) &&
           (b < a) == (encode_key(b) < encode_key(a)) &&
           starhold::detail::decode_key<std::decay_t<decltype(a)>>(encode_key(a)) == a;
  };
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const auto x = rng(), y = rng();
    const int shift = static_cast<int>(rng() % 64);
    CHECK(agrees(static_cast<std::int8_t>(x), static_cast<std::int8_t>(y)));
    CHECK(agrees(static_cast<std::uint16_t>(x), static_cast<std::uint16_t>(y)));
    CHECK(agrees(static_cast<std::int32_t>(x >> shift), static_cast<std::int32_t>(y)));
    CHECK(agrees(static_cast<std::int64_t>(x) >> shift, static_cast<std::int64_t>(y) >> shift));
    CHECK(agrees(x >> shift, y));
    const std::string s(x % 4, static_cast<char>(y % 3)), t(y % 4, static_cast<char>(x % 3));
    CHECK(agrees(s, t));
    CHECK(agrees(std::pair(s, static_cast<std::int16_t>(x)),
                 std::pair(t, static_cast<std::int16_t>(y))));
    CHECK(agrees(Descending<std::string>{s}, Descending<std::string>{t}));
  }

  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(options(dir, log));
  server.start();
  using Score = std::pair<Descending<std::int32_t>, std::string>;  // best first, then by name
  using Log = std::tuple<std::int64_t, std::uint32_t>;             // (time, sequence)
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Log> lines;
  std::vector<std::string> top;
  std::optional<Log> latest;
  test::run(server, [&](starhold::Transaction& tx) {
    ints.clear();
    strings.clear();
    lines.clear();
    top.clear();
    auto i = starhold::OrderedSet<std::int64_t>::create(tx);
    for (std::int64_t v : {std::int64_t{5}, std::numeric_limits<std::int64_t>::max(),
                           std::int64_t{-1}, std::numeric_limits<std::int64_t>::min(),
                           std::int64_t{0}, std::int64_t{-300}, std::int64_t{256}})
      i.insert(tx, v);
    i.for_each(tx, [&](std::int64_t v) { ints.push_back(v); });
    auto s = starhold::OrderedSet<std::string>::create(tx);
    for (const char* v : {"b", "", "ab", "a", "\xff", "a b"})
      s.insert(tx, v);
    s.insert(tx, std::string("a\0", 2));
    s.for_each(tx, [&](const std::string& v) { strings.push_back(v); });
    auto b = starhold::OrderedMap<Score, std::int32_t>::create(tx);
    b.put(tx, Score{{10}, "cat"}, 10);
    b.put(tx, Score{{-3}, "ant"}, -3);
    b.put(tx, Score{{10}, "bee"}, 10);
    b.put(tx, Score{{700}, "dog"}, 700);
    b.for_each(tx, [&](const Score& k, std::int32_t) {
      top.push_back(k.second);
      return top.size() < 3;  // top three only
    });
    auto l = starhold::OrderedSet<Log>::create(tx);
    l.insert(tx, Log{-20, 2});
    l.insert(tx, Log{1000, 0});
    l.insert(tx, Log{-20, 1});
    l.insert(tx, Log{7, 4000000000u});
    l.for_each(tx, [&](const Log& v) { lines.push_back(v); });
    latest = l.last(tx);
  });
  CHECK(ints == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -300, -1, 0, 5,
                                          256, std::numeric_limits<std::int64_t>::max()});
  CHECK(strings ==
        std::vector<std::string>{"", "a", std::string("a\0", 2), "a b", "ab", "b", "\xff"});
  CHECK(top == std::vector<std::string>{"dog", "bee", "cat"});
  CHECK(lines == std::vector<Log>{{-20, 1}, {-20, 2}, {7, 4000000000u}, {1000, 0}});
  CHECK(latest == Log{1000, 0});
}

TEST_CASE("an ordered map keeps its entries, order and counts across a server restart") {
  test::TempDir dir;
  test::LogCapture log;
  std::mt19937 rng(99);
  Model model;
  {
    starhold::Server server(options(dir, log));
    server.start();
    make_map(server);
    for (int round = 0; round < 6; ++round)
      apply(server, random_ops(rng, 800, 0.8, model), model);
  }
  starhold::Server server(options(dir, log));
  server.start();
  check_against(server, model, rng);
  apply(server, random_ops(rng, 800, 0.4, model), model);
  check_against(server, model, rng);
}

TEST_CASE(
    "a walk over many tasks sees each key present throughout exactly once while others "
    "insert and erase") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(options(dir, log));
  server.start();
  make_map(server);
  // Multiples of 4 stay for the whole walk; the other keys come and go.
  constexpr std::int32_t kKeys = 8000;
  test::run(server, [](starhold::Transaction& tx) {
    for (std::int32_t k = 0; k < kKeys; k += 2)
      map_of(tx).put(tx, k, k);
  });
  std::atomic<bool> walking{true};
  std::atomic<int> churned{0}, failed{0};
  // Puts or erases 20 keys that are not multiples of 4.
  auto churn_once = [&](std::mt19937& rng) {
    std::vector<std::int32_t> keys;
    for (int i = 0; i < 20; ++i) {
      const auto k = static_cast<std::int32_t>(rng() % kKeys);
      keys.push_back(k % 4 == 0 ? k + 1 : k);
    }
    try {
      test::run(server, [&](starhold::Transaction& tx) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
          if (i % 2 == 0) {
            map_of(tx).put(tx, keys[i], -1);
          } else {
            map_of(tx).erase(tx, keys[i]);
          }
        }
      });
      ++churned;
    } catch (const std::exception&) {
      ++failed;
    }
  };
  std::vector<std::thread> churn;
  for (int t = 0; t < 2; ++t) {
    churn.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int task = 0; task < 5000 && walking.load(); ++task)
        churn_once(rng);
    });
  }
  // Forward with next(), then backward with prev(), 40 entries per task.
  // Between two tasks of a walk, one more task changes the map for certain.
  std::mt19937 between(3);
  auto walk = [&](bool forward) {
    std::vector<std::int32_t> seen;
    std::optional<std::int32_t> cursor;
    bool done = false;
    for (int task = 0; task < kKeys / 40 + 10 && !done; ++task) {  // keys lie in [0, kKeys)
      std::vector<std::int32_t> got;
      test::run(server, [&](starhold::Transaction& tx) {
        got.clear();
        done = false;
        std::optional<std::int32_t> at = cursor;
        for (int i = 0; i < 40 && !done; ++i) {
          auto e = forward ? map_of(tx).next(tx, at) : map_of(tx).prev(tx, at);
          done = !e.has_value();
          if (e) got.push_back(e->first);
          if (e) at = e->first;
        }
      });
      seen.insert(seen.end(), got.begin(), got.end());
      if (!got.empty()) cursor = got.back();
      churn_once(between);
    }
    return seen;
  };
  const auto up = walk(true);
  const auto down = walk(false);
  walking = false;
  for (auto& c : churn)
    c.join();
  CHECK(failed.load() == 0);
  INFO("tasks that changed the map meanwhile: " << churned.load());
  CHECK(churned.load() > kKeys / 40);
  CHECK(std::is_sorted(up.begin(), up.end(), std::less_equal<>()));         // each key once
  CHECK(std::is_sorted(down.begin(), down.end(), std::greater_equal<>()));  // each key once
  for (const auto* seen : {&up, &down}) {
    std::size_t stable = 0;
    for (auto k : *seen)
      stable += k % 4 == 0 ? 1 : 0;
    CHECK(stable == kKeys / 4);
  }
}

TEST_CASE("concurrent inserts and erases from many tasks leave an exact size and order") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(options(dir, log, 4));
  server.start();
  make_map(server);
  constexpr int kThreads = 8, kEach = 250;
  const auto before = server.metrics();
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::future<void>> fs;
      for (int i = 0; i < kEach; ++i) {
        const std::int32_t k = i * kThreads + t;  // threads' keys share leaves
        fs.push_back(server.submit("insert", [k](starhold::Transaction& tx) {
          Map& m = map_of(tx);
          m.put(tx, k, k);
          if (k % 5 == 0) m.erase(tx, k);  // some leave again at once
        }));
      }
      for (auto& f : fs) {
        try {
          f.get();
        } catch (const std::exception&) {
          ++failed;
        }
      }
    });
  }
  for (auto& c : clients)
    c.join();
  CHECK(failed.load() == 0);
  std::uint64_t size = 0, last_rank = 0;
  std::vector<std::int32_t> keys;
  test::run(server, [&](starhold::Transaction& tx) {
    keys.clear();
    const Map& m = map_of(tx);
    size = m.size(tx);
    m.for_each(tx, [&](std::int32_t k, std::int64_t) { keys.push_back(k); });
    last_rank = m.rank(tx, m.last(tx)->first);
  });
  std::vector<std::int32_t> expected;
  for (std::int32_t k = 0; k < kThreads * kEach; ++k) {
    if (k % 5 != 0) expected.push_back(k);
  }
  CHECK(size == expected.size());
  CHECK(keys == expected);
  CHECK(last_rank == expected.size() - 1);
  const auto after = server.metrics();
  const auto attempts = after.attempts_started - before.attempts_started;
  const auto conflicts = after.aborts_conflict - before.aborts_conflict;
  const auto waits = after.hot_waits - before.hot_waits;
  INFO("attempts " << attempts << ", conflicts " << conflicts << ", hot waits " << waits);
  // The tasks really overlapped, and writers of one map queued rather than aborted.
  CHECK(waits > 0);
  CHECK(conflicts * 20 < attempts);
}

TEST_CASE("a map of 100,000 entries takes single changes that write a few records each") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(options(dir, log));
  server.start();
  make_map(server);
  constexpr std::int32_t kEntries = 100000;
  std::vector<std::int32_t> keys(kEntries);
  for (std::int32_t i = 0; i < kEntries; ++i)
    keys[static_cast<std::size_t>(i)] = 2 * i;
  std::shuffle(keys.begin(), keys.end(), std::mt19937(5));
  for (std::size_t at = 0; at < keys.size(); at += 5000) {
    test::run(server, [&](starhold::Transaction& tx) {
      for (std::size_t i = at; i < at + 5000; ++i)
        map_of(tx).put(tx, keys[i], keys[i]);
    });
  }
  CHECK(height(server) >= 2);
  constexpr int kChanges = 200;
  const auto before = server.metrics();
  std::vector<std::uint64_t> sizes, ranks;
  for (int i = 0; i < kChanges; ++i) {
    test::run(server, [&, i](starhold::Transaction& tx) {
      Map& m = map_of(tx);
      if (i % 2 == 0) {
        m.put(tx, 4 * i + 1, i);  // a new odd key
      } else {
        m.erase(tx, 4 * i);
      }
    });
  }
  const auto after = server.metrics();
  test::run(server, [&](starhold::Transaction& tx) {
    sizes.assign(1, map_of(tx).size(tx));
    ranks.assign(1, map_of(tx).rank(tx, 2 * kEntries - 2));
  });
  CHECK(sizes[0] == static_cast<std::uint64_t>(kEntries));
  CHECK(ranks[0] == static_cast<std::uint64_t>(kEntries) - 1);
  const double writes = static_cast<double>(after.store_writes - before.store_writes) / kChanges;
  INFO("records written per change: " << writes);
  CHECK(writes < 8.0);
}
