// The threads that hash passwords, and their bounded queue.
//
// scrypt is slow on purpose, so hashing never runs on a task worker (a task
// has 100 ms) or a network thread. The hashing threads run at a lower CPU
// priority (nice +10): while workers and network threads want the cores
// they get them, and hashing takes what is left; an idle server hashes at
// full speed.
//
// A login's job is refused at once (try_post returns false) when the queue
// already holds `bound` jobs, so a storm is answered "retry later" instead
// of queueing beyond what can be hashed before the clients give up. With
// bound 0 the pool sizes the queue itself: what its threads finish within
// `patience`, from the average time of the jobs it ran (a job of this pool
// is typically one hash). Operators' jobs (set_password) use post(), which
// is not bounded. Jobs still queued when the pool stops (or is destroyed) are
// cancelled.
//
// Thread-safe. Lock: mu_ only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"

namespace starhold::session {

class HashPool {
 public:
  struct Job {
    std::function<void()> run;     // on a hashing thread
    std::function<void()> cancel;  // instead of run, when the pool stops first
  };

  // threads: 0 for one per core.
  HashPool(int threads, std::size_t bound, std::chrono::steady_clock::duration patience, Log& log);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Queues job unless the queue is at its bound; false means it was not taken.
  bool try_post(Job job);
  // Queues job whatever the queue holds.
  void post(Job job);
  // The current bound on queued jobs.
  std::size_t bound();
  // Whether try_post would refuse a job now (a hint: another thread may
  // take or add a job the next moment).
  bool full();
  // Waits for the running jobs, cancels the queued ones and stops the
  // threads; later jobs are refused (try_post) or cancelled (post). Every
  // job is destroyed before this returns, with what it holds. Idempotent;
  // not from a job.
  void stop();

 private:
  void run();                        // a hashing thread
  std::size_t bound_locked() const;  // REQUIRES: mu_ held

  const std::size_t fixed_bound_;  // 0: sized from the measured job time
  const std::chrono::steady_clock::duration patience_;
  Log& log_;
  std::size_t thread_count_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;         // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  double mean_job_seconds_ = 0;  // guarded by mu_; 0 until a job has run
  std::vector<std::thread> threads_;
};

}  // namespace starhold::session
