// A small bank shared by the crash tests, the process they kill and the
// checker that audits it afterwards: accounts, a receipt per transfer, one-shot
// durable "mark" tasks that must each run exactly once, and a periodic "beat".
//
// Every start of a loaded process takes a new run number from the bank, and
// the ids of its transfers and marks start at run * kIdsPerRun, so ids stay
// unique across any number of restarts of one store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "starhold/starhold.hpp"

namespace bank {

inline constexpr int kAccounts = 20;
inline constexpr std::int64_t kInitial = 1000;
inline constexpr std::uint64_t kIdsPerRun = 1'000'000'000;
inline constexpr std::chrono::milliseconds kBeatPeriod{100};

struct Account final : starhold::Managed<Account> {
  static constexpr std::string_view type_name = "bank.Account";
  std::int64_t balance = 0;
  template <class F>
  void fields(F& f) {
    f(1, balance);
  }
};

struct Receipt final : starhold::Managed<Receipt> {
  static constexpr std::string_view type_name = "bank.Receipt";
  std::int32_t from = 0;
  std::int32_t to = 0;
  std::int64_t amount = 0;  // 0: refused
  template <class F>
  void fields(F& f) {
    f(1, from);
    f(2, to);
    f(3, amount);
  }
};

// Created with its one-shot task, in the same transaction; the task adds one.
struct Mark final : starhold::Managed<Mark> {
  static constexpr std::string_view type_name = "bank.Mark";
  std::int32_t runs = 0;
  template <class F>
  void fields(F& f) {
    f(1, runs);
  }
};

struct Bank final : starhold::Managed<Bank> {
  static constexpr std::string_view type_name = "bank.Bank";
  std::vector<starhold::Ref<Account>> accounts;
  std::int64_t beats = 0;  // runs of the periodic "beat" task
  std::int64_t runs = 0;   // loaded processes started on this store
  template <class F>
  void fields(F& f) {
    f(1, accounts);
    f(2, beats);
    f(3, runs);
  }
};

inline constexpr std::string_view kReceiptPrefix = "receipt.";
inline constexpr std::string_view kMarkPrefix = "mark.";

inline std::string receipt_name(std::uint64_t id) {
  return fmt::format("receipt.{:015}", id);
}

inline std::string mark_name(std::uint64_t id) {
  return fmt::format("mark.{:015}", id);
}

// Registers "mark" and "beat". on_mark_ran, if set, is called with a mark's id
// once its run has committed.
inline void register_handlers(starhold::Server& server,
                              std::function<void(std::uint64_t)> on_mark_ran = {}) {
  server.handle("mark", [on_mark_ran](starhold::Transaction& tx, std::string_view payload) {
    const std::uint64_t id = std::stoull(std::string(payload));
    tx.lookup<Mark>(mark_name(id)).runs += 1;
    if (on_mark_ran) tx.on_commit([on_mark_ran, id] { on_mark_ran(id); });
  });
  server.handle("beat", [](starhold::Transaction& tx, std::string_view) {
    tx.lookup<Bank>("bank").beats += 1;
  });
}

// Creates the bank and its beat on a new store; on every call, counts one more
// run and returns its number (1 for the first).
inline std::uint64_t open_run(starhold::Server& server) {
  std::uint64_t run = 0;
  server
      .submit("open run",
              [&run](starhold::Transaction& tx) {
                auto* b = tx.find<Bank>("bank");
                if (b == nullptr) {
                  b = &tx.create<Bank>();
                  for (int i = 0; i < kAccounts; ++i) {
                    auto& a = tx.create<Account>();
                    a.balance = kInitial;
                    b->accounts.push_back(a);
                  }
                  tx.bind("bank", *b);
                  tx.schedule_periodic("beat", "", kBeatPeriod, kBeatPeriod);
                }
                b->runs += 1;
                run = static_cast<std::uint64_t>(b->runs);
              })
      .get();
  return run;
}

// Creates mark id and schedules its one-shot task after delay.
inline void schedule_mark(starhold::Transaction& tx, std::uint64_t id,
                          std::chrono::milliseconds delay) {
  tx.bind(mark_name(id), tx.create<Mark>());
  tx.schedule("mark", std::to_string(id), delay);
}

inline void transfer(starhold::Transaction& tx, std::uint64_t id, int from, int to,
                     std::int64_t amount) {
  auto& b = tx.lookup<Bank>("bank");
  auto& r = tx.create<Receipt>();
  r.from = from;
  r.to = to;
  auto& a = tx.get(b.accounts[static_cast<std::size_t>(from)]);
  auto& c = tx.get(b.accounts[static_cast<std::size_t>(to)]);
  if (from != to && a.balance >= amount) {
    a.balance -= amount;
    c.balance += amount;
    r.amount = amount;
  }
  tx.bind(receipt_name(id), r);
}

}  // namespace bank
