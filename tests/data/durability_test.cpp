// Durability: a child process runs transfers and prints each commit it was
// told of; it is killed with SIGKILL mid-load. After restart every reported
// commit must be present, the books must balance, and the durable tasks it had
// scheduled must run exactly once.
#include <catch2/catch.hpp>

#include <csignal>
#include <set>
#include <thread>

#include "support/bank.hpp"
#include "support/test_support.hpp"

TEST_CASE("after kill -9, every reported commit is present and nothing half-done") {
  test::TempDir dir;
  const std::string store = dir.sub("world");
  std::set<std::uint64_t> reported;
  {
    test::Child child({test::helper_path(), "transfers", store});
    REQUIRE(child.read_line(std::chrono::seconds(30)) == std::optional<std::string>("ready"));
    // Kill once a good number of commits were reported, mid-load.
    while (reported.size() < 3000) {
      auto line = child.read_line(std::chrono::seconds(30));
      REQUIRE(line.has_value());
      REQUIRE(line->rfind("committed ", 0) == 0);
      reported.insert(std::stoull(line->substr(10)));
    }
    child.kill_hard();
    CHECK(child.wait() == 128 + SIGKILL);
  }

  test::LogCapture log;
  auto options = test::options_for(store, log, 2);
  options.task_time_limit = std::chrono::seconds(60);  // the audit reads every receipt
  starhold::Server server(options);
  bank::register_handlers(server);
  server.start();

  std::size_t receipts = 0, missing = 0;
  test::run(server, [&](starhold::Transaction& tx) {
    receipts = missing = 0;
    auto& b = tx.lookup<bank::Bank>("bank");
    std::vector<std::int64_t> expected(bank::kAccounts, bank::kInitial);
    std::string name = "receipt.";
    while (auto next = tx.next_bound_name(name)) {
      if (next->rfind("receipt.", 0) != 0) break;
      auto& r = tx.lookup<bank::Receipt>(*next);
      expected[static_cast<std::size_t>(r.from)] -= r.amount;
      expected[static_cast<std::size_t>(r.to)] += r.amount;
      ++receipts;
      name = *next;
    }
    std::int64_t total = 0;
    for (int i = 0; i < bank::kAccounts; ++i) {
      const std::int64_t balance = tx.get(b.accounts[static_cast<std::size_t>(i)]).balance;
      CHECK(balance ==
            expected[static_cast<std::size_t>(i)]);  // every receipt's transfer applied, once
      CHECK(balance >= 0);
      total += balance;
    }
    CHECK(total == bank::kAccounts * bank::kInitial);
    for (std::uint64_t id : reported) {
      if (tx.find<bank::Receipt>(bank::receipt_name(id)) == nullptr) ++missing;
    }
  });
  CHECK(missing == 0);
  CHECK(receipts >= reported.size());

  // The one-shot marks run exactly once across both processes; the periodic beat goes on.
  std::int64_t beats_at_restart = -1;
  test::run(server, [&](starhold::Transaction& tx) {
    beats_at_restart = tx.lookup<bank::Bank>("bank").beats;
  });
  REQUIRE(test::wait_until([&] {
    bool done = false;
    test::run(server, [&](starhold::Transaction& tx) {
      auto& b = tx.lookup<bank::Bank>("bank");
      done = b.marks.size() == bank::kMarks && b.beats >= beats_at_restart + 3;
    });
    return done;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  test::run(server, [&](starhold::Transaction& tx) {
    for (const auto& [mark, runs] : tx.lookup<bank::Bank>("bank").marks) {
      INFO("mark " << mark);
      CHECK(runs == 1);
    }
  });
}
