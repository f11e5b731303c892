// Small helpers shared by the benchmark programs: JSON result lines, a Zipf
// sampler, latency percentiles, a closed-loop task driver, scratch dirs.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "starhold/starhold.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

// Options every benchmark program takes: --dir DIR (stores go under it),
// --seconds N (measured time per workload; warm-up is at most half of it),
// --only PREFIX (run the workloads whose name starts with it).
struct RunOptions {
  std::string dir = ".";
  std::chrono::milliseconds measure{5000};
  std::chrono::milliseconds warmup{1000};
  std::string only;

  bool wants(std::string_view workload) const { return workload.rfind(only, 0) == 0; }
};

// Parses argv into the common options; each other "--flag VALUE" goes to
// extra, which returns false for a flag it does not know. Throws
// std::runtime_error naming a bad or unknown option.
inline void parse_options(
    int argc, char** argv, RunOptions& common,
    const std::function<bool(std::string_view flag, const std::string& value)>& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--dir") {
      common.dir = value;
    } else if (flag == "--seconds") {
      common.measure = std::chrono::milliseconds(static_cast<long>(std::stod(value) * 1000));
      common.warmup = std::min(common.warmup, common.measure / 2);
    } else if (flag == "--only") {
      common.only = value;
    } else if (!extra(flag, value)) {
      throw std::runtime_error("unknown option " + flag);
    }
  }
}

// A bank account of the transfer workloads: a balance and an owner's name,
// about 40 bytes stored.
struct Account final : starhold::Managed<Account> {
  static constexpr std::string_view type_name = "bench.Account";
  std::int64_t balance = 0;
  std::string owner;
  template <class F>
  void fields(F& f) {
    f(1, balance);
    f(2, owner);
  }
};

// One result per line: {"name":..., "value":..., "unit":..., "baseline":..., "ratio":...}
inline void report(const std::string& name, double value, const std::string& unit,
                   std::optional<double> baseline = std::nullopt, const std::string& extra = "") {
  std::string line = fmt::format(R"({{"name":"{}","value":{:.6g},"unit":"{}")", name, value, unit);
  if (baseline) {
    line += fmt::format(R"(,"baseline":{:.6g},"ratio":{:.3f})", *baseline,
                        *baseline > 0 ? value / *baseline : 0.0);
  }
  if (!extra.empty()) line += "," + extra;
  line += "}";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Samples 0..n-1 with P(k) proportional to 1/(k+1)^s.
class Zipf {
 public:
  Zipf(std::size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
      cdf_[k] = sum;
    }
    for (auto& c : cdf_)
      c /= sum;
  }
  template <class Rng>
  std::size_t operator()(Rng& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// Latencies in microseconds; thread-safe add.
class Latencies {
 public:
  void add(double us) {
    std::lock_guard lock(mu_);
    samples_.push_back(us);
  }
  double quantile(double q) {
    std::lock_guard lock(mu_);
    if (samples_.empty()) return 0;
    std::sort(samples_.begin(), samples_.end());
    auto i = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1));
    return samples_[i];
  }
  void clear() {
    std::lock_guard lock(mu_);
    samples_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<double> samples_;
};

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base, const std::string& name)
      : path_(base + "/starhold-bench-" + name) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Keeps `window` tasks in flight: each completion submits the next, until
// the measured interval ends. Counts the tasks that succeeded inside the
// interval and records each one's latency (submit to durable report); a task
// that failed counts only as failed.
class Driver {
 public:
  using MakeTask = std::function<starhold::TaskBody(std::mt19937_64& rng)>;

  struct Result {
    double per_second = 0;
    std::uint64_t completed = 0;        // succeeded inside the measured interval
    std::uint64_t succeeded_total = 0;  // succeeded in the whole run, warm-up and drain included
    std::uint64_t failed = 0;           // failed in the whole run
    double p50_us = 0, p99_us = 0;
  };

  static Result run(starhold::Server& server, MakeTask make, std::size_t window,
                    std::chrono::milliseconds warmup, std::chrono::milliseconds measure) {
    Driver d(server, std::move(make));
    for (std::size_t i = 0; i < window; ++i)
      d.submit_one(i);
    std::this_thread::sleep_for(warmup);
    d.latencies_.clear();
    const auto c0 = d.completed_.load();
    const auto t0 = Clock::now();
    d.measuring_ = true;
    std::this_thread::sleep_for(measure);
    d.measuring_ = false;
    const auto c1 = d.completed_.load();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    d.stop_ = true;
    d.drain();
    Result r;
    r.completed = c1 - c0;
    r.per_second = static_cast<double>(r.completed) / secs;
    r.succeeded_total = d.completed_.load();
    r.failed = d.failed_.load();
    r.p50_us = d.latencies_.quantile(0.50);
    r.p99_us = d.latencies_.quantile(0.99);
    return r;
  }

 private:
  Driver(starhold::Server& s, MakeTask make) : server_(s), make_(std::move(make)) {}

  void submit_one(std::size_t seed) {
    thread_local std::mt19937_64 rng(std::random_device{}() ^ seed);
    in_flight_.fetch_add(1);
    const auto start = Clock::now();
    server_.submit("bench", make_(rng), [this, start, seed](std::exception_ptr e) {
      if (e) {
        failed_.fetch_add(1);
      } else {
        completed_.fetch_add(1);
      }
      if (!e && measuring_) {
        latencies_.add(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
      if (!stop_) submit_one(seed);
      if (in_flight_.fetch_sub(1) == 1) {
        std::lock_guard lock(mu_);
        cv_.notify_all();
      }
    });
  }

  void drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_.load() == 0; });
  }

  starhold::Server& server_;
  MakeTask make_;
  std::atomic<bool> stop_{false}, measuring_{false};
  std::atomic<std::uint64_t> completed_{0}, failed_{0};
  std::atomic<std::size_t> in_flight_{0};
  Latencies latencies_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace bench
