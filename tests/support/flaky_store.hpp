// A Store that fails write batches at random, as a disk with I/O errors
// would. It wraps a real store (the LMDB store of open_lmdb_store) and keeps
// the Store contract: a failed batch throws StoreError before anything of it
// reaches the inner store, so it is all or nothing. Reads always go through.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>

#include "starhold/store.hpp"

namespace test {

class FlakyStore final : public starhold::Store {
 public:
  // Fails no batch until set_failure_rate is called. seed makes the choice of
  // failing batches repeatable for one sequence of writes.
  FlakyStore(std::unique_ptr<starhold::Store> inner, std::uint64_t seed);

  // From now on each write batch fails with probability rate (0 to 1), and a
  // failing batch takes `delay` to fail, as a device that times out does.
  // Thread-safe.
  void set_failure_rate(double rate,
                        std::chrono::microseconds delay = std::chrono::microseconds(0)) noexcept;

  // Batches written / failed so far. Thread-safe.
  std::uint64_t batches() const noexcept { return batches_.load(); }
  std::uint64_t failures() const noexcept { return failures_.load(); }

  bool get(starhold::Table table, std::string_view key, std::string& value) override;
  bool next(starhold::Table table, std::string_view after, bool inclusive, std::string& key,
            std::string& value) override;
  // Throws StoreError for a batch chosen to fail, leaving the inner store as it was.
  void write(std::span<const starhold::StoreWrite> writes) override;
  starhold::StoreStats stats() override { return inner_->stats(); }

 private:
  std::unique_ptr<starhold::Store> inner_;
  std::atomic<double> rate_{0.0};
  std::atomic<std::int64_t> delay_us_{0};
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // guarded by rng_mu_
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace test
