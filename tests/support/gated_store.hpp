// A store for tests that decide exactly when, and how, writes happen: it
// wraps a real store, can hold the next write until the test releases or
// fails it, and can fail the next writes with a chosen error. Holding a write
// stops the data service's committer inside it, so a test can act while a
// commit is validated and visible but not yet durable.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

#include "starhold/starhold.hpp"

namespace test {

class GatedStore final : public starhold::Store {
 public:
  explicit GatedStore(std::unique_ptr<starhold::Store> inner) : inner_(std::move(inner)) {}

  // The next write() waits until release() or fail_held().
  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  // Waits until a write is being held; false after timeout.
  bool wait_held(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_; });
  }
  // Lets the held write go on to the real store.
  void release() { finish(nullptr); }
  // Makes the held write throw error instead (nothing of it is applied).
  void fail_held(std::exception_ptr error) { finish(std::move(error)); }
  // The next n writes throw what make_error returns (nothing of them is applied).
  void fail_next(int n, std::function<std::exception_ptr()> make_error) {
    std::lock_guard lock(mu_);
    fail_count_ = n;
    make_error_ = std::move(make_error);
  }
  int writes_failed() const {
    std::lock_guard lock(mu_);
    return failed_;
  }

  bool get(starhold::Table t, std::string_view k, std::string& v) override {
    return inner_->get(t, k, v);
  }
  bool next(starhold::Table t, std::string_view after, bool inclusive, std::string& k,
            std::string& v) override {
    return inner_->next(t, after, inclusive, k, v);
  }
  void write(std::span<const starhold::StoreWrite> writes) override {
    std::exception_ptr error;
    {
      std::unique_lock lock(mu_);
      if (hold_) {
        hold_ = false;
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return done_; });
        held_ = done_ = false;
        error = std::move(held_error_);
      } else if (fail_count_ > 0) {
        --fail_count_;
        error = make_error_();
      }
      if (error) ++failed_;
    }
    if (error) std::rethrow_exception(error);
    inner_->write(writes);
  }
  starhold::StoreStats stats() override { return inner_->stats(); }

 private:
  void finish(std::exception_ptr error) {
    std::lock_guard lock(mu_);
    held_error_ = std::move(error);
    done_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<starhold::Store> inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;  // guarded by mu_, like every field below
  bool held_ = false;
  bool done_ = false;
  std::exception_ptr held_error_;
  int fail_count_ = 0;
  std::function<std::exception_ptr()> make_error_;
  int failed_ = 0;
};

}  // namespace test
