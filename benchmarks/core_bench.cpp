// The transactional core under load. Each result line is JSON; where a
// baseline applies (raw LMDB doing the same reads and writes with the same
// sync, measured in this run) it is printed beside the result as a ratio.
//
//   core_bench [--dir DIR] [--seconds N] [--workers N]
//
// Workloads:
//   raw_lmdb_*        random read-modify-write of 100-byte records in LMDB
//                     write transactions, synced (durable) or not
//   rmw_uncontended   one task per update of a random 100-byte object of 100,000
//   transfers_*       bank transfers between 100,000 accounts, uniform and
//                     Zipf(1.5) account picks, latency to durable report
//   hot_counter       every task increments the same object
//   latency_moderate  commit latency with few tasks in flight
//   fiber_switch      cost of running an attempt on a fiber, against a call
#include <lmdb.h>

#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cstring>
#include <thread>

#include "bench_util.hpp"

namespace {

using bench::Clock;

constexpr std::size_t kObjects = 100000;
constexpr std::size_t kPayload = 88;  // with its counter and header: about 100 bytes a record

struct Item final : starhold::Managed<Item> {
  static constexpr std::string_view type_name = "bench.Item";
  std::int64_t counter = 0;
  std::string payload;
  template <class F>
  void fields(F& f) {
    f(1, counter);
    f(2, payload);
  }
};

struct Args : bench::RunOptions {
  int workers = 0;
  std::size_t window = 256;  // transfers in flight
};

Args parse(int argc, char** argv) {
  Args a;
  bench::parse_options(argc, argv, a, [&](std::string_view flag, const std::string& value) {
    if (flag == "--workers") {
      a.workers = std::stoi(value);
    } else if (flag == "--window") {
      a.window = static_cast<std::size_t>(std::stoul(value));
    } else {
      return false;
    }
    return true;
  });
  return a;
}

starhold::ServerOptions server_options(const std::string& dir, int workers) {
  starhold::ServerOptions o;
  o.store_path = dir;
  o.workers = workers;
  o.log_level = starhold::LogLevel::warn;
  return o;
}

// Creates n objects made by make(tx, i), 1000 per task; returns their ids.
template <class Make>
std::vector<starhold::ObjectId> populate(starhold::Server& server, std::size_t n, Make make) {
  std::vector<starhold::ObjectId> ids(n);
  for (std::size_t start = 0; start < n; start += 1000) {
    server
        .submit("populate",
                [&, start](starhold::Transaction& tx) {
                  for (std::size_t i = start; i < std::min(n, start + 1000); ++i)
                    ids[i] = make(tx, i);
                })
        .get();
  }
  return ids;
}

// ---- Raw LMDB baseline -------------------------------------------------------

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(fmt::format("{}: {}", what, mdb_strerror(rc)));
}

// Random read-modify-writes of kObjects records, batch per write transaction.
double raw_lmdb_rmw(const std::string& base, std::size_t batch, bool sync,
                    std::chrono::milliseconds measure) {
  bench::ScratchDir dir(base, "raw");
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env_create");
  check(mdb_env_set_mapsize(env, std::size_t{1} << 30), "set_mapsize");
  check(mdb_env_open(env, dir.path().c_str(), MDB_NOTLS | (sync ? 0 : MDB_NOSYNC), 0644), "open");
  MDB_dbi dbi;
  MDB_txn* txn;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  check(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi_open");
  std::string value(12 + 2 + 1 + 2 + kPayload, 'v');
  for (std::size_t i = 0; i < kObjects; ++i) {
    std::uint64_t id = __builtin_bswap64(i + 1);
    MDB_val k{8, &id}, v{value.size(), value.data()};
    check(mdb_put(txn, dbi, &k, &v, 0), "put");
  }
  check(mdb_txn_commit(txn), "commit");
  std::mt19937_64 rng(42);
  std::uint64_t done = 0;
  const auto end = Clock::now() + measure;
  const auto t0 = Clock::now();
  std::string scratch;
  while (Clock::now() < end) {
    check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (std::size_t i = 0; i < batch; ++i) {
      std::uint64_t id = __builtin_bswap64(rng() % kObjects + 1);
      MDB_val k{8, &id}, v;
      check(mdb_get(txn, dbi, &k, &v), "get");
      scratch.assign(static_cast<const char*>(v.mv_data), v.mv_size);
      scratch[20] = static_cast<char>(scratch[20] + 1);
      MDB_val nv{scratch.size(), scratch.data()};
      check(mdb_put(txn, dbi, &k, &nv, 0), "put");
    }
    check(mdb_txn_commit(txn), "commit");
    done += batch;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  mdb_env_close(env);
  return static_cast<double>(done) / secs;
}

// ---- Starhold workloads --------------------------------------------------------

struct RmwResult {
  double per_second;
  double avg_batch;
  double aborted_fraction;
  double p50_us, p99_us;
};

RmwResult rmw(const Args& args, int workers, std::size_t window, bool hot) {
  bench::ScratchDir dir(args.dir, "rmw");
  starhold::Server server(server_options(dir.path(), workers));
  server.start();
  auto ids = populate(server, hot ? 1 : kObjects, [](starhold::Transaction& tx, std::size_t) {
    auto& item = tx.create<Item>();
    item.payload.assign(kPayload, 'p');
    return item.id();
  });
  const auto before = server.metrics();
  auto r = bench::Driver::run(
      server,
      [&](std::mt19937_64& rng) -> starhold::TaskBody {
        const starhold::Ref<Item> ref(ids[hot ? 0 : rng() % ids.size()]);
        return [ref](starhold::Transaction& tx) { tx.get(ref).counter += 1; };
      },
      window, args.warmup, args.measure);
  const auto after = server.metrics();
  RmwResult out{};
  out.per_second = r.per_second;
  const double batches = static_cast<double>(after.store_batches - before.store_batches);
  out.avg_batch =
      batches > 0 ? static_cast<double>(after.tasks_committed - before.tasks_committed) / batches
                  : 0;
  const double attempts = static_cast<double>(after.attempts_started - before.attempts_started);
  out.aborted_fraction =
      attempts > 0 ? static_cast<double>(after.aborts_conflict - before.aborts_conflict) / attempts
                   : 0;
  out.p50_us = r.p50_us;
  out.p99_us = r.p99_us;
  if (r.failed != 0) throw std::runtime_error(fmt::format("rmw: {} tasks failed", r.failed));
  if (hot) {
    std::int64_t counter = 0;
    server
        .submit("read",
                [&](starhold::Transaction& tx) {
                  counter = tx.get(starhold::Ref<Item>(ids[0])).counter;
                })
        .get();
    // Every task that succeeded added one, and nothing else did: a lost
    // update or a double apply fails the run.
    if (counter != static_cast<std::int64_t>(r.succeeded_total)) {
      throw std::runtime_error(fmt::format("hot counter: {} increments for {} successful tasks",
                                           counter, r.succeeded_total));
    }
  }
  return out;
}

void transfers(const Args& args, const std::string& name, bool zipf) {
  bench::ScratchDir dir(args.dir, "transfers");
  starhold::Server server(server_options(dir.path(), args.workers));
  server.start();
  constexpr std::int64_t kInitial = 1000;
  auto ids = populate(server, kObjects, [](starhold::Transaction& tx, std::size_t i) {
    auto& a = tx.create<bench::Account>();
    a.balance = kInitial;
    a.owner = fmt::format("account-{:08}", i);
    return a.id();
  });
  bench::Zipf zipf_dist(kObjects, 1.5);
  auto pick = [&](std::mt19937_64& rng) -> std::size_t {
    return zipf ? zipf_dist(rng) : rng() % kObjects;
  };
  const auto before = server.metrics();
  auto r = bench::Driver::run(
      server,
      [&](std::mt19937_64& rng) -> starhold::TaskBody {
        std::size_t from = pick(rng), to = pick(rng);
        while (to == from)
          to = pick(rng);
        const std::int64_t amount = static_cast<std::int64_t>(rng() % 10) + 1;
        const starhold::Ref<bench::Account> a(ids[from]), b(ids[to]);
        return [a, b, amount](starhold::Transaction& tx) {
          auto& src = tx.get(a);
          auto& dst = tx.get(b);
          if (src.balance < amount) return;
          src.balance -= amount;
          dst.balance += amount;
        };
      },
      args.window, args.warmup, args.measure);
  const auto after = server.metrics();
  // The books must balance.
  std::int64_t total = 0;
  for (std::size_t start = 0; start < ids.size(); start += 5000) {
    server
        .submit("audit",
                [&, start](starhold::Transaction& tx) {
                  for (std::size_t i = start; i < std::min(ids.size(), start + 5000); ++i) {
                    total += tx.get(starhold::Ref<bench::Account>(ids[i])).balance;
                  }
                })
        .get();
  }
  const double attempts = static_cast<double>(after.attempts_started - before.attempts_started);
  const double aborted =
      attempts > 0 ? static_cast<double>(after.aborts_conflict - before.aborts_conflict) / attempts
                   : 0;
  const std::string extra = fmt::format(
      R"("p50_ms":{:.3f},"p99_ms":{:.3f},"aborted_fraction":{:.4f},"total_ok":{},"failed":{},"in_flight":{})",
      r.p50_us / 1000, r.p99_us / 1000, aborted,
      total == static_cast<std::int64_t>(kObjects) * kInitial ? "true" : "false", r.failed,
      args.window);
  bench::report(name, r.per_second, "transfers/s", std::nullopt, extra);
  if (total != static_cast<std::int64_t>(kObjects) * kInitial || r.failed != 0) {
    throw std::runtime_error(fmt::format("{}: the books hold {} (of {}), {} transfers failed", name,
                                         total, static_cast<std::int64_t>(kObjects) * kInitial,
                                         r.failed));
  }
}

// Running an attempt on a fiber, against calling it directly.
void fiber_switch() {
  namespace ctx = boost::context;
  constexpr int kRounds = 200000;
  volatile int sink = 0;
  auto body = [&] { sink = sink + 1; };
  auto t0 = Clock::now();
  for (int i = 0; i < kRounds; ++i)
    body();
  const double call_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kRounds;
  ctx::protected_fixedsize_stack alloc(256 * 1024);
  // Pooled stacks as the workers use them: one mapping, reused.
  ctx::stack_context sc = alloc.allocate();
  struct Reuse {
    ctx::stack_context sc;
    ctx::stack_context allocate() { return sc; }
    void deallocate(ctx::stack_context&) noexcept {}
  };
  t0 = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    ctx::fiber f(std::allocator_arg, ctx::preallocated(sc.sp, sc.size, sc), Reuse{sc},
                 [&](ctx::fiber&& caller) {
                   body();
                   return std::move(caller);
                 });
    f = std::move(f).resume();
  }
  const double fiber_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kRounds;
  alloc.deallocate(sc);
  bench::report("fiber_attempt_overhead", fiber_ns, "ns", call_ns);
}

// Runs the workloads args asks for; throws when one breaks an invariant.
void run(const Args& args) {
  auto want = [&](std::string_view name) { return args.wants(name); };

  // Uncontended read-modify-write against raw LMDB with the same batch size and sync.
  RmwResult un{};
  if (want("rmw") || want("hot")) un = rmw(args, args.workers, 4096, false);
  if (want("rmw")) {
    const auto raw_batch = static_cast<std::size_t>(std::max(1.0, un.avg_batch));
    const double raw_same = raw_lmdb_rmw(args.dir, raw_batch, true, args.measure);
    bench::report("rmw_uncontended_durable", un.per_second, "commits/s", raw_same,
                  fmt::format(R"("avg_batch":{:.0f},"p50_ms":{:.3f},"p99_ms":{:.3f})", un.avg_batch,
                              un.p50_us / 1000, un.p99_us / 1000));
  }
  if (want("raw")) {
    bench::report("raw_lmdb_rmw_durable_batch1000",
                  raw_lmdb_rmw(args.dir, 1000, true, args.measure), "ops/s");
    bench::report("raw_lmdb_rmw_nosync_batch1000",
                  raw_lmdb_rmw(args.dir, 1000, false, args.measure), "ops/s");
  }
  if (want("transfers")) {
    transfers(args, "transfers_uniform", false);
    transfers(args, "transfers_zipf1.5", true);
  }
  if (want("hot")) {
    const RmwResult hot = rmw(args, args.workers, 4096, true);
    bench::report("hot_counter", hot.per_second, "commits/s", un.per_second,
                  fmt::format(R"("aborted_fraction":{:.4f})", hot.aborted_fraction));
  }
  if (want("latency")) {
    const RmwResult moderate = rmw(args, args.workers, 8, false);
    bench::report("latency_moderate_p50", moderate.p50_us / 1000, "ms", std::nullopt,
                  fmt::format(R"("commits_per_s":{:.0f},"in_flight":8)", moderate.per_second));
    bench::report("latency_moderate_p99", moderate.p99_us / 1000, "ms");
  }
  if (want("workers")) {
    const RmwResult one = rmw(args, 1, 4096, false);
    const RmwResult two = rmw(args, 2, 4096, false);
    bench::report("rmw_workers_2_vs_1", two.per_second, "commits/s", one.per_second);
  }
  if (want("fiber")) fiber_switch();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr,
               "{}\nusage: core_bench [--dir DIR] [--seconds N] [--workers N] [--window N] [--only "
               "PREFIX]\n",
               e.what());
    return 2;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  fmt::print(stderr, "core_bench: {} cores, {} s per workload, stores under {}\n", cores,
             args.measure.count() / 1000.0, args.dir);

  try {
    run(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "core_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
