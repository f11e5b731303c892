#include "session/hash_pool.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/thread_name.hpp"

namespace starhold::session {
namespace {

// How much lower than the process the hashing threads run (nice +10: about
// a tenth of a normal thread's share of a contended core).
constexpr int kHashingNice = 10;
// Queued jobs per thread before the first job has been timed.
constexpr std::size_t kInitialJobsPerThread = 8;
constexpr std::size_t kMaxBound = 65536;
// Weight of the newest job in the running mean of job times.
constexpr double kMeanWeight = 0.2;

}  // namespace

HashPool::HashPool(int threads, std::size_t bound, std::chrono::steady_clock::duration patience,
                   Log& log)
    : fixed_bound_(bound), patience_(patience), log_(log) {
  thread_count_ = threads > 0 ? static_cast<std::size_t>(threads)
                              : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < thread_count_; ++i)
    threads_.emplace_back([this] { run(); });
}

HashPool::~HashPool() {
  stop();
}

void HashPool::stop() {
  std::deque<Job> cancelled;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancelled.swap(jobs_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  for (auto& job : cancelled) {
    if (job.cancel) job.cancel();
  }
}

bool HashPool::try_post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= bound_locked()) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void HashPool::post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  if (job.cancel) job.cancel();
}

std::size_t HashPool::bound() {
  std::lock_guard lock(mu_);
  return bound_locked();
}

bool HashPool::full() {
  std::lock_guard lock(mu_);
  return stopping_ || jobs_.size() >= bound_locked();
}

std::size_t HashPool::bound_locked() const {
  if (fixed_bound_ > 0) return fixed_bound_;
  if (mean_job_seconds_ <= 0) return thread_count_ * kInitialJobsPerThread;
  const double finished_in_time = static_cast<double>(thread_count_) *
                                  std::chrono::duration<double>(patience_).count() /
                                  mean_job_seconds_;
  return std::clamp(static_cast<std::size_t>(finished_in_time), thread_count_, kMaxBound);
}

void HashPool::run() {
  core::name_this_thread("sh-hash");
  // On Linux a thread's nice value is its own (the tid names the thread).
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, tid);
  if (errno != 0 || ::setpriority(PRIO_PROCESS, tid, std::min(19, nice + kHashingNice)) != 0) {
    log_.warn("a password-hashing thread keeps normal priority: setpriority: {}",
              std::strerror(errno));
  }
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    job.run();
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    mean_job_seconds_ =
        mean_job_seconds_ <= 0 ? took : (1 - kMeanWeight) * mean_job_seconds_ + kMeanWeight * took;
  }
}

}  // namespace starhold::session
