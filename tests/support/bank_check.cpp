// The checker of the crash tests (see helper_modes.hpp, bank-check): restarts
// a server on a store the tests crashed and checks every invariant of the bank
// against what the killed processes reported.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

#include "support/bank.hpp"
#include "support/helper_modes.hpp"

namespace helper {
namespace {

constexpr std::size_t kChunk = 5000;  // names read per task
constexpr auto kMarkDeadline = std::chrono::seconds(30);

struct Reported {
  std::vector<std::uint64_t> commits;  // sorted
  std::vector<std::uint64_t> marks;    // sorted
};

// Reads the load runs' lines; a last line without its newline was cut by
// the kill and is ignored.
Reported read_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  Reported r;
  std::size_t at = 0;
  for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string_view line(text.data() + at, nl - at);
    if (line.rfind("committed ", 0) == 0)
      r.commits.push_back(std::stoull(std::string(line.substr(10))));
    if (line.rfind("scheduled ", 0) == 0)
      r.marks.push_back(std::stoull(std::string(line.substr(10))));
  }
  std::sort(r.commits.begin(), r.commits.end());
  std::sort(r.marks.begin(), r.marks.end());
  return r;
}

// What a receipt says moved.
struct Movement {
  std::int32_t from;
  std::int32_t to;
  std::int64_t amount;
};

std::uint64_t id_of(const std::string& name, std::string_view prefix) {
  return std::stoull(name.substr(prefix.size()));
}

// Reads every object bound under prefix, kChunk names per task, and hands
// each (id, value) to consume after its task committed.
template <class T, class Read, class Consume>
void scan(starhold::Server& server, std::string_view prefix, Read read, Consume consume) {
  std::string after(prefix);
  for (;;) {
    std::vector<std::pair<std::uint64_t, T>> chunk;
    std::string last;
    server
        .submit("check scan",
                [&](starhold::Transaction& tx) {
                  chunk.clear();
                  last = after;
                  while (chunk.size() < kChunk) {
                    auto next = tx.next_bound_name(last);
                    if (!next || next->rfind(prefix, 0) != 0) break;
                    chunk.emplace_back(id_of(*next, prefix), read(tx, *next));
                    last = *next;
                  }
                })
        .get();
    for (auto& [id, value] : chunk)
      consume(id, value);
    if (chunk.size() < kChunk) return;
    after = last;
  }
}

class Checker {
 public:
  // ran_here counts the marks whose run committed in this process.
  Checker(starhold::Server& server, const Reported& reported,
          const std::atomic<std::size_t>& ran_here)
      : server_(server), reported_(reported), ran_here_(ran_here) {}

  // False if there is no bank (and so nothing else to check).
  bool books();
  void marks();
  void beat();
  // Prints how many of each kind there were; returns the total.
  std::size_t count_violations() const {
    std::size_t total = 0;
    for (const auto& [kind, n] : violations_) {
      if (n > kMaxPrinted) std::cout << "VIOLATION: " << n << " " << kind << " in all\n";
      total += n;
    }
    return total;
  }
  std::string summary() const {
    return fmt::format("receipts={} commits={} marks={} marks_run_after_restart={}", receipts_,
                       reported_.commits.size(), marks_, ran_here_.load());
  }

 private:
  // Prints the first few violations of each kind; counts them all.
  void violation(const std::string& kind, const std::string& what) {
    if (++violations_[kind] <= kMaxPrinted) std::cout << "VIOLATION: " << what << "\n";
  }
  // Runs of each of ids; absent marks are left out.
  std::vector<std::pair<std::uint64_t, std::int32_t>> runs_of(
      const std::vector<std::uint64_t>& ids);

  starhold::Server& server_;
  const Reported& reported_;
  static constexpr std::size_t kMaxPrinted = 5;
  std::map<std::string, std::size_t> violations_;  // by kind
  std::int64_t beats_at_start_ = 0;
  std::size_t receipts_ = 0;
  std::size_t marks_ = 0;
  std::size_t due_at_start_ = 0;  // marks not yet run when the scan reached them
  const std::atomic<std::size_t>& ran_here_;
};

bool Checker::books() {
  std::vector<std::int64_t> balances;
  bool exists = false;
  server_
      .submit("check balances",
              [&](starhold::Transaction& tx) {
                balances.clear();
                auto* b = tx.find<bank::Bank>("bank");
                exists = b != nullptr;
                if (!exists) return;
                for (const auto& a : b->accounts)
                  balances.push_back(tx.get(a).balance);
                beats_at_start_ = b->beats;
              })
      .get();
  if (!exists) {
    if (!reported_.commits.empty() || !reported_.marks.empty()) {
      violation("lost banks",
                fmt::format("the bank is gone, with {} reported commits and {} reported marks",
                            reported_.commits.size(), reported_.marks.size()));
    } else {
      std::cout << "no bank yet, and nothing was reported\n";
    }
    return false;
  }
  std::vector<std::int64_t> expected(bank::kAccounts, bank::kInitial);
  std::vector<std::uint64_t> present;
  scan<Movement>(
      server_, bank::kReceiptPrefix,
      [](starhold::Transaction& tx, const std::string& name) {
        const auto& r = tx.lookup<bank::Receipt>(name);
        return Movement{r.from, r.to, r.amount};
      },
      [&](std::uint64_t id, const Movement& r) {
        expected[static_cast<std::size_t>(r.from)] -= r.amount;
        expected[static_cast<std::size_t>(r.to)] += r.amount;
        present.push_back(id);
      });
  receipts_ = present.size();
  std::int64_t total = 0;
  for (std::size_t i = 0; i < balances.size(); ++i) {
    total += balances[i];
    if (balances[i] != expected[i] || balances[i] < 0) {
      violation("unbalanced accounts", fmt::format("account {} holds {}, its receipts say {}", i,
                                                   balances[i], expected[i]));
    }
  }
  if (total != bank::kAccounts * bank::kInitial)
    violation("unbalanced totals", fmt::format("the accounts hold {} in total, not {}", total,
                                               bank::kAccounts * bank::kInitial));
  std::size_t missing = 0;
  for (std::uint64_t id : reported_.commits) {
    if (std::binary_search(present.begin(), present.end(), id)) continue;
    ++missing;
    violation("reported transfers missing", fmt::format("reported transfer {} is missing", id));
  }
  std::cout << fmt::format(
      "books: {} receipts audited, {} accounts hold {} in total, each as its receipts say\n"
      "commits: {} reported, {} missing\n",
      receipts_, balances.size(), total, reported_.commits.size(), missing);
  return true;
}

std::vector<std::pair<std::uint64_t, std::int32_t>> Checker::runs_of(
    const std::vector<std::uint64_t>& ids) {
  std::vector<std::pair<std::uint64_t, std::int32_t>> out;
  for (std::size_t at = 0; at < ids.size(); at += kChunk) {
    std::vector<std::pair<std::uint64_t, std::int32_t>> chunk;
    server_
        .submit("check marks",
                [&](starhold::Transaction& tx) {
                  chunk.clear();
                  for (std::size_t i = at; i < std::min(ids.size(), at + kChunk); ++i) {
                    if (auto* m = tx.find<bank::Mark>(bank::mark_name(ids[i])))
                      chunk.emplace_back(ids[i], m->runs);
                  }
                })
        .get();
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  return out;
}

void Checker::marks() {
  std::vector<std::uint64_t> all, due;
  auto note = [&](std::uint64_t id, std::int32_t runs) {
    if (runs > 1)
      violation("marks run more than once", fmt::format("mark {} ran {} times", id, runs));
    if (runs == 0) due.push_back(id);
  };
  scan<std::int32_t>(
      server_, bank::kMarkPrefix,
      [](starhold::Transaction& tx, const std::string& name) {
        return tx.lookup<bank::Mark>(name).runs;
      },
      [&](std::uint64_t id, std::int32_t runs) {
        all.push_back(id);
        note(id, runs);
      });
  marks_ = all.size();
  due_at_start_ = due.size();
  for (std::uint64_t id : reported_.marks) {
    if (!std::binary_search(all.begin(), all.end(), id))
      violation("reported marks missing", fmt::format("reported mark {} is missing", id));
  }
  // Every mark still due must run once; then no durable task but the beat is left.
  const auto end = std::chrono::steady_clock::now() + kMarkDeadline;
  while (!due.empty() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto runs = runs_of(due);
    due.clear();
    for (auto [id, n] : runs)
      note(id, n);
  }
  if (!due.empty())
    violation("marks never run",
              fmt::format("{} marks never ran (mark {} first)", due.size(), due[0]));
  while (server_.metrics().scheduled_pending > 1 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto pending = server_.metrics().scheduled_pending;
  if (pending != 1)
    violation("tasks left",
              fmt::format("{} durable tasks are pending after every mark ran (the beat only: 1)",
                          pending));
  std::size_t once = 0;
  for (auto [id, n] : runs_of(all)) {
    if (n == 1) {
      ++once;
    } else {
      violation("marks not run exactly once", fmt::format("mark {} ran {} times", id, n));
    }
  }
  std::cout << fmt::format(
      "marks: {} of {} ran exactly once ({} reported scheduled; {} ran after this restart, {} "
      "were not yet run when read)\n",
      once, all.size(), reported_.marks.size(), ran_here_.load(), due_at_start_);
}

void Checker::beat() {
  std::int64_t beats = beats_at_start_;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (beats < beats_at_start_ + 3 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(bank::kBeatPeriod);
    server_
        .submit("check beat",
                [&](starhold::Transaction& tx) { beats = tx.lookup<bank::Bank>("bank").beats; })
        .get();
  }
  if (beats < beats_at_start_ + 3) {
    violation("beat stopped",
              fmt::format("the periodic beat did not resume ({} -> {})", beats_at_start_, beats));
  } else {
    std::cout << fmt::format("beat: runs again after the restart ({} -> {})\n", beats_at_start_,
                             beats);
  }
}

}  // namespace

int bank_check(const std::vector<std::string>& args) {
  if (args.size() != 2) throw std::invalid_argument("bank-check needs DIR and LOG");
  const Reported reported = read_log(args[1]);
  starhold::ServerOptions so;
  so.store_path = args[0];
  so.workers = 2;
  so.task_time_limit = std::chrono::seconds(10);
  so.log_level = starhold::LogLevel::warn;
  std::optional<starhold::Server> server;
  std::atomic<std::size_t> ran_here{0};
  try {
    server.emplace(so);
    bank::register_handlers(*server, [&ran_here](std::uint64_t) { ++ran_here; });
    server->start();
  } catch (const std::exception& e) {
    std::cout << "VIOLATION: the store does not open: " << e.what() << std::endl;
    return 1;
  }
  Checker checker(*server, reported, ran_here);
  if (checker.books()) {
    checker.marks();
    checker.beat();
  }
  server->stop();
  if (const auto n = checker.count_violations(); n > 0) {
    std::cout << "check FAILED: " << n << " violations" << std::endl;
    return 1;
  }
  std::cout << "check ok: " << checker.summary() << std::endl;
  return 0;
}

}  // namespace helper
