// The group committer: one thread that turns the commits validated in memory
// into store transactions. While it writes and syncs one batch, commits keep
// arriving in the next, so batches grow with load and a sync is shared by
// every commit in its batch.
#include <algorithm>

#include <fmt/format.h>

#include "core/thread_name.hpp"
#include "data/data_service.hpp"
#include "starhold/errors.hpp"

namespace starhold::data {

void DataService::start() {
  std::lock_guard lock(commit_mu_);
  if (committer_.joinable()) return;
  stopping_ = false;
  committer_ = std::thread([this] {
    core::name_this_thread("sh-commit");
    run_committer();
  });
}

void DataService::stop() {
  {
    std::lock_guard lock(commit_mu_);
    if (!committer_.joinable()) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  committer_.join();
}

void DataService::run_committer() {
  for (;;) {
    {
      std::unique_lock lock(commit_mu_);
      work_cv_.wait(lock, [&] { return !batch_.empty() || stopping_; });
      if (batch_.empty()) return;  // stopping, nothing left
      std::swap(batch_, inflight_);
    }
    write_batch(inflight_);
    inflight_.clear();
    update_watermark();
  }
}

void DataService::write_batch(Batch& batch) {
  // Coalesce: an object or name written by several commits of the batch is
  // stored once, at its newest version. Sorting by key also makes the store's
  // B-tree walk sequential.
  auto& objs = batch.objects;
  std::stable_sort(objs.begin(), objs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  auto& names = batch.names;
  std::stable_sort(names.begin(), names.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::vector<IdKey> keys;
  keys.reserve(objs.size() + batch.index.size());
  writes_.clear();
  for (std::size_t i = 0; i < objs.size(); ++i) {
    if (i + 1 < objs.size() && objs[i + 1].first == objs[i].first) continue;  // a newer one follows
    const Record& r = *objs[i].second;
    keys.emplace_back(objs[i].first);
    writes_.push_back({Table::objects, keys.back().view(), r.exists() ? &r.value : nullptr});
  }
  std::vector<std::string> name_values;
  name_values.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i + 1 < names.size() && names[i + 1].first == names[i].first) continue;
    const NameRecord& r = *names[i].second;
    name_values.push_back(NameTable::encode(r));
    writes_.push_back(
        {Table::names, names[i].first, r.target != 0 ? &name_values.back() : nullptr});
  }
  static const std::string kEmpty;
  for (const IndexWrite& w : batch.index) {  // in commit order: the last write of an id wins
    keys.emplace_back(w.task_id);
    writes_.push_back({Table::tasks, keys.back().view(), w.present ? &kEmpty : nullptr});
  }
  // A batch that changed nothing (read-only tasks, an echo) needs no store
  // transaction: everything it read was made durable by earlier batches.
  if (!writes_.empty()) {
    const Version last = batch.commits.back().version;
    store_u64le(meta_seq_.data(), last);
    store_u64le(meta_next_id_.data(), next_id_.load(std::memory_order_relaxed));
    const std::size_t changes = writes_.size();
    writes_.push_back({Table::meta, "commit_seq", &meta_seq_});
    writes_.push_back({Table::meta, "next_id", &meta_next_id_});
    try {
      store_.write(writes_);
    } catch (...) {
      store_failed(batch, std::current_exception());
      return;
    }
    consecutive_failures_ = 0;
    counters_.batches.fetch_add(1, std::memory_order_relaxed);
    counters_.writes.fetch_add(changes, std::memory_order_relaxed);
  }

  for (const auto& [id, rec] : objs)
    objects_.mark_clean(id, rec->version);
  retired_names_.clear();
  for (const auto& [name, rec] : names)
    retired_names_.push_back({name, rec->version});
  if (!retired_names_.empty()) names_.retire(retired_names_);

  if (!batch.commits.empty()) {
    std::lock_guard lock(release_mu_);
    for (const PendingCommit& c : batch.commits)
      c.waiter->committed(c.version);
    released_ = batch.commits.back().version;
  }
  {
    std::lock_guard lock(commit_mu_);
    pending_ -= batch.commits.size();
    for (const PendingCommit& c : batch.commits)
      pending_bytes_ -= c.bytes;
  }
  space_cv_.notify_all();
}

void DataService::store_failed(Batch& batch, std::exception_ptr error) {
  // StoreFull may pass (the operator frees space); an error that repeats
  // batch after batch, or one the store calls fatal, will not.
  constexpr int kFatalAfter = 3;
  counters_.storage_failures.fetch_add(1, std::memory_order_relaxed);
  bool fatal = false;
  std::string what;
  try {
    std::rethrow_exception(error);
  } catch (const StoreFatal& e) {
    fatal = true;
    what = e.what();
  } catch (const StoreFull& e) {
    what = e.what();
  } catch (const Error& e) {
    fatal = ++consecutive_failures_ >= kFatalAfter;
    what = e.what();
  } catch (const std::exception& e) {
    fatal = true;
    what = fmt::format("the store threw an exception that is not a starhold::Error: {}", e.what());
  } catch (...) {
    fatal = true;
    what = "the store threw an exception that is not a std::exception";
  }
  log_.error("store write of {} commits failed, failing every commit not yet durable: {}",
             batch.commits.size(), what);
  if (fatal) {
    if (consecutive_failures_ >= kFatalAfter) {
      what = fmt::format("{} store writes failed in a row, the last with: {}",
                         consecutive_failures_, what);
    }
    auto fatal_error = std::make_exception_ptr(StoreFatal(what));
    {
      std::lock_guard lock(commit_mu_);
      if (!fatal_error_) fatal_error_ = fatal_error;
    }
    fatal_.store(true, std::memory_order_release);
    log_.error(
        "the store cannot take writes any more ({}); every task that writes now fails, "
        "reads go on; restart the server once the cause is fixed",
        what);
    error = fatal_error;
  }
  fail_pending(batch, error);
}

void DataService::fail_pending(Batch& inflight, std::exception_ptr error) {
  Batch later;
  Version survivors = 0;  // every version up to here that is not dropped is durable
  {
    std::lock_guard lock(commit_mu_);
    std::swap(later, batch_);
    // Whoever read what a failed commit wrote must not commit. The epoch
    // moves before the versions go, so a reader that sees them gone sees it
    // moved, and again after: a transaction begins only at an even epoch, so
    // one that began while they went (and may have read one) sees it moved too.
    failure_epoch_.fetch_add(1, std::memory_order_seq_cst);
    objects_.drop_dirty();
    names_.drop_dirty();
    failure_epoch_.fetch_add(1, std::memory_order_seq_cst);
    structure_version_.store(++seq_, std::memory_order_release);
    published_.store(seq_, std::memory_order_release);
    survivors = seq_;
    pending_ = 0;
    pending_bytes_ = 0;
  }
  {
    std::lock_guard lock(release_mu_);
    released_ = std::max(released_, survivors);
  }
  space_cv_.notify_all();
  for (const PendingCommit& c : inflight.commits)
    c.waiter->commit_failed(error);
  for (const PendingCommit& c : later.commits)
    c.waiter->commit_failed(error);
}

}  // namespace starhold::data
