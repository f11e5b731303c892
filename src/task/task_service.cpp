#include "task/task_service.hpp"

#include <algorithm>
#include <bit>
#include <random>
#include <typeinfo>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/thread_name.hpp"
#include "data/type_registry.hpp"
#include "task/scheduled_task.hpp"

namespace starhold::task {
namespace {

constexpr std::chrono::milliseconds kHotCoolDown{200};
constexpr std::chrono::seconds kStorageRetryDelay{1};

std::string describe_conflict(const Attempt& a) {
  if (a.conflict_id != 0) return fmt::format("object #{}", a.conflict_id);
  if (!a.conflict_name.empty()) return fmt::format("name '{}'", a.conflict_name);
  return "an object it read";
}

// Reports an outcome to whoever listens. Their callback must not throw; if it
// does, the error is logged rather than taking down a Starhold thread.
void notify(Log& log, Task& t, std::exception_ptr outcome) {
  if (!t.done) return;
  try {
    t.done(outcome);
  } catch (const std::exception& e) {
    log.error("the completion callback of task '{}' threw: {}", t.name, e.what());
  } catch (...) {
    log.error("the completion callback of task '{}' threw", t.name);
  }
}

std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

Task::~Task() {
  if (from_outside) service->outside_task_done();
}

void Task::committed(data::Version) {
  service->task_committed(this);
}
void Task::commit_failed(std::exception_ptr error) {
  service->task_commit_failed(this, error);
}

TaskService::TaskService(const ServerOptions& options, data::DataService& data, Log& log)
    : options_(options),
      clock_(options.clock ? options.clock : system_clock()),
      data_(data),
      log_(log),
      intents_(data, kHotCoolDown, [this](Attempt* a) { wake(a); }) {}

TaskService::~TaskService() {
  stop();
}

std::chrono::milliseconds TaskService::time_limit(const TaskOptions& options,
                                                  std::string_view name) const {
  if (options.time_limit.count() < 0) {
    throw UsageError(fmt::format("task '{}': a negative time limit", name));
  }
  return options.time_limit.count() > 0 ? options.time_limit : options_.task_time_limit;
}

void TaskService::handle(std::string name, TaskHandler handler, TaskOptions options) {
  std::lock_guard lock(mu_);
  if (started_) throw UsageError(fmt::format("handler '{}' registered after start()", name));
  if (!handler) throw UsageError(fmt::format("handler '{}' is empty", name));
  const auto limit = time_limit(options, name);
  auto [it, inserted] = handlers_.try_emplace(name, Handler{std::move(handler), limit});
  if (!inserted)
    throw UsageError(fmt::format("a task handler named '{}' is already registered", name));
}

const TaskHandler* TaskService::handler(std::string_view name) const {
  auto it = handlers_.find(std::string(name));
  return it == handlers_.end() ? nullptr : &it->second.run;
}

bool TaskService::running() const {
  std::lock_guard lock(mu_);
  return started_ && !stopping_;
}

void TaskService::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) throw UsageError("the server is already started");
  }
  recover();
  std::lock_guard lock(mu_);
  started_ = true;
  std::size_t n = options_.workers > 0 ? static_cast<std::size_t>(options_.workers)
                                       : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < n; ++i)
    workers_.push_back(std::make_unique<Worker>(*this, i));
  for (auto& w : workers_)
    threads_.emplace_back([w = w.get()] {
      core::name_this_thread("sh-worker", w->index());
      w->run();
    });
  timer_thread_ = std::thread([this] {
    core::name_this_thread("sh-timer");
    run_timer();
  });
}

void TaskService::recover() {
  if (!options_.run_stored_tasks) {
    log_.info("stored tasks are not run in this process (run_stored_tasks is off)");
    return;
  }
  std::vector<Arm> arms;
  std::vector<std::string> missing;
  for (const std::uint64_t id : data_.stored_task_ids()) {
    data::RecordPtr rec = data_.read_object(id, nullptr);
    detail::ScheduledTask st;
    if (!rec->exists() || rec->type_hash != st.type().hash) {
      log_.warn("scheduled task #{} is listed but its record is missing; ignoring it", id);
      continue;
    }
    try {
      st.decode(rec->fields());
    } catch (const FieldError& e) {
      log_.error("scheduled task #{} cannot be decoded ({}); it will not run", id, e.what());
      continue;
    }
    if (handler(st.handler) == nullptr) {
      if (std::find(missing.begin(), missing.end(), st.handler) == missing.end()) {
        missing.push_back(st.handler);
      }
      continue;
    }
    arms.push_back(Arm{id, st.handler, st.due_ms});
  }
  if (!missing.empty()) {
    throw UsageError(fmt::format(
        "the store holds scheduled tasks for handlers this program does not register: {}; "
        "register them with Server::handle before start()",
        fmt::join(missing, ", ")));
  }
  for (const Arm& a : arms)
    arm(a);
  if (!arms.empty()) log_.info("re-armed {} stored tasks", arms.size());
}

void TaskService::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    for (auto& w : workers_)
      w->cv_.notify_one();
  }
  timer_cv_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  std::deque<Task*> left;
  {
    std::lock_guard lock(mu_);
    left.swap(ready_);
    while (!timers_.empty()) {
      left.push_back(timers_.top().task);
      timers_.pop();
    }
  }
  for (Task* t : left)
    drop(t);
}

void TaskService::submit(std::string name, TaskBody body,
                         std::function<void(std::exception_ptr)> done,
                         std::function<void()> validated, bool from_outside, TaskOptions options) {
  enqueue(make_task(std::move(name), std::move(body), std::move(done), std::move(validated),
                    from_outside, options));
}

namespace {

// A thread's budget for attempts of submit_here: at most half of each 10 ms.
struct HereBudget {
  static constexpr Steady::duration kWindow = std::chrono::milliseconds(10);
  Steady::time_point window_start{};
  Steady::duration spent{};
  bool running = false;  // an attempt of submit_here is on this thread's stack
};
thread_local HereBudget t_here;

}  // namespace

bool TaskService::running_here() noexcept {
  return t_here.running;
}

void TaskService::submit_here(std::string name, TaskBody body,
                              std::function<void(std::exception_ptr)> done,
                              std::function<void()> validated) {
  Task* t =
      make_task(std::move(name), std::move(body), std::move(done), std::move(validated), false, {});
  const auto start = Steady::now();
  if (start - t_here.window_start > HereBudget::kWindow) {
    t_here.window_start = start;
    t_here.spent = {};
  }
  if (t_here.running || t_here.spent > HereBudget::kWindow / 2) {
    enqueue(t);
    return;
  }
  // One per thread, made on its first use; its stacks and attempts go with the thread.
  thread_local std::unique_ptr<Worker> here;
  if (!here || &here->service_ != this) here = std::make_unique<Worker>(*this, 0, true);
  t_here.running = true;
  here->start_attempt(t);
  t_here.running = false;
  t_here.spent += Steady::now() - start;
}

Task* TaskService::make_task(std::string name, TaskBody body,
                             std::function<void(std::exception_ptr)> done,
                             std::function<void()> validated, bool from_outside,
                             TaskOptions options) {
  if (!body) throw UsageError(fmt::format("submit '{}': empty task body", name));
  const auto limit = time_limit(options, name);
  if (from_outside) {
    if (outside_pending_.fetch_add(1, std::memory_order_relaxed) >= options_.max_pending_tasks) {
      outside_pending_.fetch_sub(1, std::memory_order_relaxed);
      throw Overloaded(fmt::format(
          "submit '{}': {} submitted tasks are not finished yet (max_pending_tasks); try again "
          "later",
          name, options_.max_pending_tasks));
    }
  }
  auto* t = new Task;
  t->from_outside = from_outside;
  t->service = this;
  t->name = std::move(name);
  t->body = std::move(body);
  t->done = std::move(done);
  t->validated = std::move(validated);
  t->time_limit = limit;
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) {
      delete t;
      throw UsageError("submit: the server is not running");
    }
  }
  counters_.submitted.fetch_add(1, std::memory_order_relaxed);
  return t;
}

std::future<void> TaskService::submit_future(std::string name, TaskBody body, bool from_outside,
                                             TaskOptions options) {
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> f = promise->get_future();
  submit(
      std::move(name), std::move(body),
      [promise](std::exception_ptr e) {
        if (e) {
          promise->set_exception(e);
        } else {
          promise->set_value();
        }
      },
      {}, from_outside, options);
  return f;
}

// ---- Queues ----------------------------------------------------------------

void TaskService::enqueue(Task* t) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    drop(t);
    return;
  }
  ready_.push_back(t);
  wake_idle_worker();
}

void TaskService::wake_idle_worker() {
  if (idle_workers_.empty()) return;
  Worker* w = idle_workers_.back();
  idle_workers_.pop_back();
  w->idle_ = false;
  w->cv_.notify_one();
}

void TaskService::enqueue_at(Task* t, Steady::time_point due) {
  if (due <= clock_->now()) {
    enqueue(t);
    return;
  }
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    drop(t);
    return;
  }
  const bool earliest = timers_.empty() || due < timers_.top().due;
  timers_.push(Timed{due, t});
  if (earliest) timer_cv_.notify_one();
}

void TaskService::arm(const Arm& a) {
  if (!options_.run_stored_tasks) return;
  auto* t = new Task;
  t->service = this;
  t->name = a.handler;
  t->record = a.record;
  t->retiring = a.retiring;
  auto h = handlers_.find(a.handler);
  t->time_limit = h != handlers_.end() ? h->second.time_limit : options_.task_time_limit;
  armed_.fetch_add(1, std::memory_order_relaxed);
  enqueue_at(t, clock_->now() + std::chrono::milliseconds(a.due_ms - wall_ms()));
}

void TaskService::wake(Attempt* a) {
  std::lock_guard lock(mu_);
  Worker* w = a->worker;
  w->resumable_.push_back(a);
  if (w->idle_) {
    std::erase(idle_workers_, w);
    w->idle_ = false;
  }
  w->cv_.notify_one();
}

void TaskService::run_timer() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const auto due = timers_.top().due;
    const auto now = clock_->now();
    if (due > now) {
      // Wait in real time for the gap as the clock sees it; a clock that can
      // jump is looked at again often.
      auto wait = due - now;
      if (clock_->jumps()) wait = std::min<Steady::duration>(wait, std::chrono::milliseconds(2));
      timer_cv_.wait_for(lock, wait);
      continue;
    }
    while (!timers_.empty() && timers_.top().due <= now) {
      ready_.push_back(timers_.top().task);
      timers_.pop();
      wake_idle_worker();
    }
  }
}

// ---- Attempts and policy ----------------------------------------------------

void TaskService::run_attempt(Attempt& a) {
  Task& t = *a.task;
  TxImpl& tx = a.tx;
  tx.begin(t);
  try {
    if (!t.hints.empty()) tx.take_intents(t.hints);
    if (t.retiring) {
      tx.retire_scheduled(t.record);
    } else if (t.record != 0) {
      tx.run_scheduled(t.record);
    } else {
      t.body(tx);
    }
    if (tx.doomed()) {
      // The body returned although the attempt was aborted inside it: game
      // code caught the abort (a catch (...) that does not rethrow).
      log_.warn(
          "task '{}' caught Starhold's abort of its attempt and carried on; the attempt is "
          "aborted anyway (rethrow from catch (...))",
          t.name);
    }
    a.outcome = tx.commit();
  } catch (const AbortSignal& s) {
    a.outcome = s.reason;
  } catch (const std::exception& e) {
    a.outcome = game_error_outcome(tx);
    if (a.outcome == Outcome::exception) {
      a.error = fmt::format("{}: {}", detail::demangle(typeid(e)), e.what());
    }
  } catch (...) {
    a.outcome = game_error_outcome(tx);
    a.error = "an exception not derived from std::exception";
  }
  // Waiters for our intents read what we installed, so hand them over only now.
  intents_.release(&a, a.held);
  tx.end();
  if (a.outcome == Outcome::committed) return;  // the Task is the committer's now

  switch (a.outcome) {
    case Outcome::conflict:
      counters_.conflicts.fetch_add(1, std::memory_order_relaxed);
      if (a.conflict_id != 0) {
        intents_.conflicted(a.conflict_id);
        if (std::find(t.hints.begin(), t.hints.end(), a.conflict_id) == t.hints.end()) {
          t.hints.push_back(a.conflict_id);
        }
      }
      log_.debug("task '{}' conflicted on {} (attempt {})", t.name, describe_conflict(a),
                 t.attempts);
      if (++t.conflicts > options_.max_conflict_retries) {
        fail(&t, TaskFailed::Cause::conflict,
             fmt::format("{} conflicts in a row, the last on {}", t.conflicts,
                         describe_conflict(a)));
      } else {
        retry(&t, backoff(t.conflicts));
      }
      break;
    case Outcome::timeout:
      counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
      log_.warn(
          "task '{}' exceeded its time limit of {} ms (attempt {}); its changes were "
          "discarded",
          t.name, t.time_limit.count(), t.attempts);
      if (++t.timeouts > options_.max_timeout_retries) {
        fail(&t, TaskFailed::Cause::timeout,
             fmt::format("exceeded its time limit of {} ms in {} attempts", t.time_limit.count(),
                         t.timeouts));
      } else {
        retry(&t, Steady::duration::zero());
      }
      break;
    case Outcome::exception:
      counters_.exceptions.fetch_add(1, std::memory_order_relaxed);
      fail(&t, TaskFailed::Cause::exception, a.error);
      break;
    case Outcome::storage:
      counters_.storage.fetch_add(1, std::memory_order_relaxed);
      fail(&t, TaskFailed::Cause::storage, a.error);
      break;
    case Outcome::committed:
      break;
  }
}

// An error raised by game code is the game's verdict only if the attempt saw
// a snapshot that is still current; otherwise the game reacted to a state
// that a retry will not see (an object removed meanwhile, say).
Outcome TaskService::game_error_outcome(TxImpl& tx) {
  if (tx.doomed()) return tx.doom_reason();
  return tx.reads_current() ? Outcome::exception : Outcome::conflict;
}

Steady::duration TaskService::backoff(int conflicts) {
  if (conflicts <= 1) return Steady::duration::zero();
  thread_local std::minstd_rand rng(std::random_device{}());
  const auto min = options_.retry_backoff_min;
  const auto max = options_.retry_backoff_max;
  auto d = min * (std::int64_t{1} << std::min(conflicts - 2, 20));
  if (d > max) d = max;
  std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, d.count() * 3 / 2);
  return std::chrono::microseconds(jitter(rng));
}

void TaskService::retry(Task* t, Steady::duration delay) {
  counters_.retries.fetch_add(1, std::memory_order_relaxed);
  if (delay == Steady::duration::zero()) {
    enqueue(t);
  } else {
    enqueue_at(t, clock_->now() + delay);
  }
}

void TaskService::fail(Task* t, TaskFailed::Cause cause, const std::string& detail) {
  TaskFailed error(t->name, cause, detail);
  if (t->record != 0 && cause == TaskFailed::Cause::overload) {
    // It never ran: try it again later.
    log_.warn("{}; the scheduled task runs again in a moment", error.what());
    retry(t, kStorageRetryDelay);
    return;
  }
  if (!t->retiring) counters_.failed.fetch_add(1, std::memory_order_relaxed);
  if (t->record != 0 && cause == TaskFailed::Cause::storage) {
    // The store can take no writes: the record is as it was, and runs after a restart.
    log_.error("{}; the scheduled task stays stored and runs after a restart", error.what());
    armed_.fetch_sub(1, std::memory_order_relaxed);
  } else if (t->record != 0) {
    // The failure becomes final when the record's retirement is durable; a
    // crash before then runs the task again after restart.
    const bool again = t->retiring;
    if (again) {
      log_.warn("retiring scheduled task '{}' failed ({}); trying again", t->name, detail);
    } else {
      log_.error("{}; retiring the scheduled task", error.what());
    }
    t->retiring = true;
    t->conflicts = t->timeouts = 0;
    retry(t, again ? Steady::duration(kStorageRetryDelay) : Steady::duration::zero());
    return;
  } else {
    log_.error("{}; its changes were discarded", error.what());
  }
  notify(log_, *t, std::make_exception_ptr(error));
  delete t;
}

void TaskService::drop(Task* t) {
  if (t->record != 0) {
    armed_.fetch_sub(1, std::memory_order_relaxed);  // stays stored; runs after restart
  } else {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    notify(log_, *t,
           std::make_exception_ptr(TaskFailed(t->name, TaskFailed::Cause::shutdown,
                                              "the server stopped before it committed")));
  }
  delete t;
}

// ---- Reports from the committer ---------------------------------------------

void TaskService::task_committed(Task* t) {
  counters_.committed.fetch_add(1, std::memory_order_relaxed);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - t->commit_started)
          .count();
  const std::size_t bucket = std::min<std::size_t>(Histogram::kBuckets - 1,
                                                   std::bit_width(static_cast<std::uint64_t>(us)));
  counters_.commit_latency[bucket].fetch_add(1, std::memory_order_relaxed);
  for (auto& hook : t->hooks) {
    try {
      hook();
    } catch (const std::exception& e) {
      log_.error("an on_commit hook of task '{}' threw: {}", t->name, e.what());
    } catch (...) {
      log_.error("an on_commit hook of task '{}' threw", t->name);
    }
  }
  for (const Arm& a : t->arms)
    arm(a);
  if (t->retiring) log_.info("scheduled task '{}' is retired after its failure", t->name);
  if (t->record != 0) armed_.fetch_sub(1, std::memory_order_relaxed);
  notify(log_, *t, nullptr);
  delete t;
}

void TaskService::task_commit_failed(Task* t, std::exception_ptr error) {
  counters_.storage.fetch_add(1, std::memory_order_relaxed);
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
  const std::string detail = what_of(error);
  notify(log_, *t,
         std::make_exception_ptr(TaskFailed(t->name, TaskFailed::Cause::storage, detail)));
  if (t->record != 0) {
    // Its record is still stored (the run's changes were not): run it again
    // later, unless the store can take no more writes; then after a restart.
    armed_.fetch_sub(1, std::memory_order_relaxed);
    if (!data_.fatal()) {
      arm(Arm{t->record, t->name,
              wall_ms() +
                  std::chrono::duration_cast<std::chrono::milliseconds>(kStorageRetryDelay).count(),
              t->retiring});
    }
  }
  delete t;
}

}  // namespace starhold::task
