// A small bank shared by the durability test and the child process it kills:
// accounts, a receipt per transfer, and durable tasks that must run once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "starhold/starhold.hpp"

namespace bank {

inline constexpr int kAccounts = 20;
inline constexpr std::int64_t kInitial = 1000;
inline constexpr int kMarks = 10;

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

struct Bank final : starhold::Managed<Bank> {
  static constexpr std::string_view type_name = "bank.Bank";
  std::vector<starhold::Ref<Account>> accounts;
  std::map<std::string, std::int32_t> marks;  // runs of each one-shot "mark" task
  std::int64_t beats = 0;                     // runs of the periodic "beat" task
  template <class F>
  void fields(F& f) {
    f(1, accounts);
    f(2, marks);
    f(3, beats);
  }
};

inline std::string receipt_name(std::uint64_t id) {
  return fmt::format("receipt.{:012}", id);
}

inline void register_handlers(starhold::Server& server) {
  server.handle("mark", [](starhold::Transaction& tx, std::string_view payload) {
    tx.lookup<Bank>("bank").marks[std::string(payload)] += 1;
  });
  server.handle("beat", [](starhold::Transaction& tx, std::string_view) {
    tx.lookup<Bank>("bank").beats += 1;
  });
}

// Creates the bank once, with durable tasks due a little later.
inline void setup(starhold::Server& server) {
  server
      .submit("setup",
              [](starhold::Transaction& tx) {
                if (tx.find<Bank>("bank") != nullptr) return;
                auto& b = tx.create<Bank>();
                for (int i = 0; i < kAccounts; ++i) {
                  auto& a = tx.create<Account>();
                  a.balance = kInitial;
                  b.accounts.push_back(a);
                }
                tx.bind("bank", b);
                for (int i = 0; i < kMarks; ++i) {
                  tx.schedule("mark", std::to_string(i), std::chrono::milliseconds(1500));
                }
                tx.schedule_periodic("beat", "", std::chrono::milliseconds(100),
                                     std::chrono::milliseconds(100));
              })
      .get();
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
