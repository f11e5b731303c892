// The data service: committed state in memory over the store, commit
// validation, and the group committer.
//
// Commit protocol. A transaction records the version of everything it reads.
// commit() takes commit_mu_, checks that every read is still the current
// version, gives the commit the next sequence number, installs its writes in
// the caches (visible to later tasks at once), publishes the number, and
// appends the writes to the pending batch. The committer thread writes pending
// batches to the store (one store transaction, one sync per batch), then marks
// the writes clean and tells each commit's waiter, in commit order. A commit
// is reported only then. If the store rejects a batch, every commit not yet
// durable is failed and its versions are dropped from memory, so nothing a
// failed commit wrote survives and nothing reported is lost. A store that
// fails fatally (StoreFatal, an exception of a foreign type, or several
// failed batches in a row) puts the service in a fatal state: commits that
// write fail at once with the cause, reads and read-only commits go on.
//
// Release. Waiters are told under release_mu_, one commit at a time, and
// released_ is the newest version told: every commit up to it is durable and
// reported, none after it. A transaction that wrote nothing and read at
// snapshot released_ needs neither a sequence number nor the committer: its
// place in commit order is right there, so release_read_only() reports it at
// once on the calling thread (an echo costs no hand-off to the committer).
//
// Lock order: commit_mu_, then cache shard mutexes / NameTable mutexes.
// release_mu_ is never held with commit_mu_.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "data/name_table.hpp"
#include "data/record.hpp"
#include "data/snapshots.hpp"
#include "data/versioned_cache.hpp"
#include "starhold/store.hpp"

namespace starhold::data {

// Told the outcome of a commit, on the committer thread, in commit order.
class CommitWaiter {
 public:
  virtual void committed(Version version) = 0;
  virtual void commit_failed(std::exception_ptr error) = 0;

 protected:
  ~CommitWaiter() = default;
};

struct ObjectRead {
  std::uint64_t id;
  Version version;
};
struct ObjectWrite {
  std::uint64_t id;
  std::shared_ptr<Record> record;  // value holds header space; version is set at commit
  RecordPtr previous;              // the version validated as current (null: created)
};
struct NameRead {
  std::string name;
  Version version;
};
struct NameWrite {
  std::string name;
  std::uint64_t target;  // 0: unbind
};
struct IndexWrite {
  std::uint64_t task_id;
  bool present;
};

// What a transaction hands to commit(). Owned by the transaction; commit()
// copies what it keeps, so the vectors can be reused.
struct CommitRequest {
  std::vector<ObjectRead> object_reads;
  std::vector<ObjectWrite> object_writes;
  std::vector<NameRead> name_reads;
  std::optional<Version> structure_read;  // names iterated at this structure version
  std::vector<NameWrite> name_writes;
  std::vector<IndexWrite> index_writes;
  CommitWaiter* waiter = nullptr;
  // failure_epoch() when the transaction began: a store failure since then
  // may have undone commits it read, so it may not commit.
  std::uint64_t epoch = 0;

  void clear();
  bool read_only() const noexcept {
    return object_writes.empty() && name_writes.empty() && index_writes.empty();
  }
};

struct CommitResult {
  bool committed = false;
  std::exception_ptr failed;      // the store is in a fatal state: a StoreFatal
  Version version = 0;            // when committed
  std::uint64_t conflict_id = 0;  // an object that changed, when not (0: a name)
  std::string conflict_name;      // a name that changed, when not
};

struct DataOptions {
  std::size_t cache_bytes;
  std::size_t max_pending_commits;
  std::size_t max_pending_bytes;  // of records written by commits not yet durable
};

struct DataCounters {
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> storage_failures{0};
};

class DataService {
 public:
  // Checks the store's format (writing it on a new store) and loads the
  // counters. Throws StoreFormatError.
  DataService(Store& store, const DataOptions& options, Log& log);
  ~DataService();

  void start();  // starts the committer thread
  // Writes everything pending and stops the committer.
  void stop();

  // ---- Reads (thread-safe) ----
  // The newest committed record of id (never null; !exists() when absent)
  // and whether the object is hot.
  RecordPtr read_object(std::uint64_t id, bool* hot);
  NamePtr read_name(std::string_view name) { return names_.get(name); }
  std::optional<std::string> next_bound_name(std::string_view after) {
    return names_.next_bound(after);
  }
  // The same, as of a snapshot taken with begin_snapshot and still held.
  // read_object_at returns null if the versions kept no longer reach back
  // that far (the caller then aborts: it cannot happen while the watermark
  // accounts for every snapshot).
  RecordPtr read_object_at(std::uint64_t id, Version snapshot);
  NamePtr read_name_at(std::string_view name, Version snapshot) {
    return names_.get_at(name, snapshot);
  }
  std::optional<std::string> next_bound_name_at(std::string_view after, Version snapshot) {
    return names_.next_bound_at(after, snapshot);
  }

  // Snapshots of running transactions (see snapshots.hpp).
  SnapshotRegistry& snapshots() noexcept { return snapshots_; }
  Version begin_snapshot(SnapshotRegistry::Slot& slot) noexcept { return slot.begin(published_); }
  Version structure_version() const noexcept {
    return structure_version_.load(std::memory_order_acquire);
  }

  // The newest commit whose writes are all visible in memory.
  Version published() const noexcept { return published_.load(std::memory_order_acquire); }
  // Waits (briefly: an install is in progress) until published() >= v.
  void await_published(Version v) const noexcept;
  // Moves twice for each store failure that undoes validated commits: to an
  // odd value before their versions are dropped from memory, to an even one
  // after. A transaction begins at begin_epoch() (read before published()),
  // and may trust a read only while failure_epoch() still equals it.
  std::uint64_t failure_epoch() const noexcept {
    return failure_epoch_.load(std::memory_order_acquire);
  }
  // The failure epoch once no failure is dropping versions (waits briefly if
  // one is): a transaction that began mid-drop could read a version about to
  // go and still find the epoch unchanged at commit.
  std::uint64_t begin_epoch() const noexcept;

  // The ids of the durable scheduled tasks in the store's index (at start).
  std::vector<std::uint64_t> stored_task_ids();

  // The name a stored type hash had when a program last registered it, or "".
  std::string stored_type_name(std::uint32_t hash);

  // ---- Commit ----
  CommitResult commit(CommitRequest& request);
  // For a transaction that wrote nothing, read only at snapshot and began at
  // failure epoch `epoch`: if every commit up to snapshot is durable and
  // reported and none after it is, reports waiter committed now, on this
  // thread, and returns true. Otherwise returns false and commit() must
  // place it in the group commit.
  bool release_read_only(Version snapshot, std::uint64_t epoch, CommitWaiter& waiter);

  // A block of fresh object ids [first, first + n).
  std::uint64_t allocate_ids(std::uint64_t n) {
    return next_id_.fetch_add(n, std::memory_order_relaxed);
  }

  void set_hot(std::uint64_t id, bool hot) { objects_.set_hot(id, hot); }

  // Set once the store failed in a way writes cannot recover from (see
  // StoreFatal); null while it is healthy. Thread-safe.
  std::exception_ptr fatal_error() const;
  bool fatal() const noexcept { return fatal_.load(std::memory_order_acquire); }

  // Validated commits not yet durable, and the bytes of the records they wrote.
  std::size_t commits_pending() const {
    std::lock_guard lock(commit_mu_);
    return pending_;
  }
  std::size_t commit_bytes_pending() const {
    std::lock_guard lock(commit_mu_);
    return pending_bytes_;
  }

  const DataCounters& counters() const noexcept { return counters_; }
  Store& store() noexcept { return store_; }

 private:
  struct PendingCommit {
    Version version;
    CommitWaiter* waiter;
    std::size_t bytes;
  };
  // Writes appended by commits, waiting for the committer. Guarded by commit_mu_.
  struct Batch {
    std::vector<std::pair<std::uint64_t, RecordPtr>> objects;
    std::vector<std::pair<std::string, NamePtr>> names;
    std::vector<IndexWrite> index;
    std::vector<PendingCommit> commits;
    bool empty() const noexcept { return commits.empty(); }
    void clear();
  };

  Version current_object_version(std::uint64_t id);  // REQUIRES: commit_mu_
  void open_format();
  void run_committer();
  void write_batch(Batch& batch);
  // Lets the caches drop versions no snapshot can read any more. Committer thread.
  void update_watermark();
  // A store write failed: decides whether the store is now fatal, then fails
  // every commit not yet durable. Committer thread.
  void store_failed(Batch& inflight, std::exception_ptr error);
  void fail_pending(Batch& inflight, std::exception_ptr error);

  Store& store_;
  const DataOptions options_;
  Log& log_;
  VersionedCache<std::uint64_t, Record> objects_;
  NameTable names_;
  SnapshotRegistry snapshots_;

  std::atomic<Version> published_{0};
  std::atomic<std::uint64_t> failure_epoch_{0};
  std::atomic<Version> structure_version_{0};
  std::atomic<std::uint64_t> next_id_{1};

  mutable std::mutex commit_mu_;
  std::condition_variable work_cv_;      // committer: a batch is waiting
  std::condition_variable space_cv_;     // committing tasks: pending fell below the limit
  Version seq_ = 0;                      // guarded by commit_mu_
  Batch batch_;                          // guarded by commit_mu_
  std::size_t pending_ = 0;              // commits not yet durable; guarded by commit_mu_
  std::size_t pending_bytes_ = 0;        // their records' bytes; guarded by commit_mu_
  bool stopping_ = false;                // guarded by commit_mu_
  std::vector<NamePtr> previous_names_;  // commit()'s scratch; guarded by commit_mu_
  std::atomic<bool> fatal_{false};
  std::exception_ptr fatal_error_;  // guarded by commit_mu_; set once with fatal_

  std::mutex release_mu_;  // held while waiters are told (see Release above)
  Version released_ = 0;   // guarded by release_mu_

  // Committer-thread state.
  std::thread committer_;
  Batch inflight_;
  int consecutive_failures_ = 0;
  Version watermark_ = 0;
  std::vector<StoreWrite> writes_;
  std::vector<NameTable::Written> retired_names_;
  std::string meta_seq_, meta_next_id_;

  DataCounters counters_;
};

}  // namespace starhold::data
