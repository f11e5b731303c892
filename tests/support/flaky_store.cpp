#include "support/flaky_store.hpp"

#include <thread>

#include "starhold/errors.hpp"

namespace test {

FlakyStore::FlakyStore(std::unique_ptr<starhold::Store> inner, std::uint64_t seed)
    : inner_(std::move(inner)), rng_(seed) {}

void FlakyStore::set_failure_rate(double rate, std::chrono::microseconds delay) noexcept {
  delay_us_.store(delay.count());
  rate_.store(rate);
}

bool FlakyStore::get(starhold::Table table, std::string_view key, std::string& value) {
  return inner_->get(table, key, value);
}

bool FlakyStore::next(starhold::Table table, std::string_view after, bool inclusive,
                      std::string& key, std::string& value) {
  return inner_->next(table, after, inclusive, key, value);
}

void FlakyStore::write(std::span<const starhold::StoreWrite> writes) {
  const double rate = rate_.load();
  bool fail = false;
  if (rate > 0) {
    std::lock_guard lock(rng_mu_);
    fail = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < rate;
  }
  batches_.fetch_add(1);
  if (fail) {
    failures_.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us_.load()));
    throw starhold::StoreError("injected I/O error: the batch was not written (FlakyStore)");
  }
  inner_->write(writes);
}

}  // namespace test
