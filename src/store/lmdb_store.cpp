// The LMDB store: four named databases in one environment.
//
// Readers use short read-only transactions taken from a pool of handles
// (MDB_NOTLS, so a handle is not tied to a thread). The single writer (the
// data service's group committer) applies a batch in one write transaction.
// When the map is full the writer takes resize_mu_ exclusively, which waits
// for readers to finish, enlarges the map and applies the batch again.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <fmt/format.h>

#include "starhold/errors.hpp"
#include "starhold/store.hpp"

namespace starhold {
namespace {

constexpr const char* kDbNames[] = {"objects", "names", "tasks", "meta"};
constexpr int kTables = 4;

std::string lmdb_message(const char* what, int rc) {
  return fmt::format("LMDB {} failed: {} ({})", what, mdb_strerror(rc), rc);
}

[[noreturn]] void throw_lmdb(const char* what, int rc) {
  switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
      throw StoreFull(lmdb_message(what, rc));
    case MDB_PANIC:  // the environment must be closed: no write can succeed
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
    case EIO:
      throw StoreFatal(lmdb_message(what, rc));
    default:
      throw StoreError(lmdb_message(what, rc));
  }
}

MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

class LmdbStore final : public Store {
 public:
  explicit LmdbStore(const LmdbOptions& o) : options_(o), map_bytes_(o.initial_map_bytes) {
    std::error_code ec;
    std::filesystem::create_directories(o.path, ec);
    if (ec)
      throw StoreError(fmt::format("cannot create store directory '{}': {}", o.path, ec.message()));
    lock_exclusive();
    int rc = mdb_env_create(&env_);
    if (rc != 0) throw_lmdb("env_create", rc);
    try {
      check(mdb_env_set_maxdbs(env_, kTables), "env_set_maxdbs");
      check(mdb_env_set_maxreaders(env_, 1022), "env_set_maxreaders");
      unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
      if (!o.durable) flags |= MDB_NOSYNC;
      check(mdb_env_open(env_, o.path.c_str(), flags, 0644), "env_open");
      // An existing store may be larger than the configured initial size.
      MDB_envinfo info;
      mdb_env_info(env_, &info);
      map_bytes_ = std::max<std::size_t>(map_bytes_, info.me_mapsize);
      map_bytes_ = std::min(map_bytes_, std::max(o.max_bytes, info.me_mapsize));
      check(mdb_env_set_mapsize(env_, map_bytes_), "env_set_mapsize");
      open_databases();
    } catch (...) {
      mdb_env_close(env_);
      if (lock_fd_ >= 0) ::close(lock_fd_);
      throw;
    }
  }

  ~LmdbStore() override {
    for (MDB_txn* t : idle_readers_)
      mdb_txn_abort(t);
    mdb_env_close(env_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  bool get(Table table, std::string_view key, std::string& value) override {
    Reader r(*this);
    MDB_val k = to_val(key), v;
    int rc = mdb_get(r.txn, dbi_[static_cast<int>(table)], &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) throw_lmdb("get", rc);
    value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return true;
  }

  bool next(Table table, std::string_view after, bool inclusive, std::string& key,
            std::string& value) override {
    Reader r(*this);
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(r.txn, dbi_[static_cast<int>(table)], &cur);
    if (rc != 0) throw_lmdb("cursor_open", rc);
    MDB_val k = to_val(after), v;
    // LMDB refuses an empty key; every key is greater than "".
    rc = mdb_cursor_get(cur, &k, &v, after.empty() ? MDB_FIRST : MDB_SET_RANGE);
    if (rc == 0 && !inclusive &&
        std::string_view(static_cast<const char*>(k.mv_data), k.mv_size) == after) {
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) throw_lmdb("cursor_get", rc);
    key.assign(static_cast<const char*>(k.mv_data), k.mv_size);
    value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return true;
  }

  void write(std::span<const StoreWrite> writes) override {
    for (;;) {
      int rc = try_write(writes);
      if (rc == 0) return;
      if (rc != MDB_MAP_FULL) throw_lmdb("commit", rc);
      grow();  // throws StoreFull at the limit
    }
  }

  StoreStats stats() override {
    std::shared_lock lock(resize_mu_);  // grow() may be remapping
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env_, &info);
    mdb_env_stat(env_, &st);
    StoreStats s;
    s.map_bytes = info.me_mapsize;
    s.used_bytes = (info.me_last_pgno + 1) * st.ms_psize;
    s.resizes = resizes_;
    return s;
  }

 private:
  // A pooled read-only transaction, renewed for one read and reset after.
  struct Reader {
    explicit Reader(LmdbStore& s) : store(s), lock(s.resize_mu_) { txn = s.take_reader(); }
    ~Reader() { store.give_reader(txn); }
    LmdbStore& store;
    std::shared_lock<std::shared_mutex> lock;
    MDB_txn* txn;
  };

  MDB_txn* take_reader() {
    MDB_txn* t = nullptr;
    {
      std::lock_guard g(pool_mu_);
      if (!idle_readers_.empty()) {
        t = idle_readers_.back();
        idle_readers_.pop_back();
      }
    }
    if (t != nullptr) {
      int rc = mdb_txn_renew(t);
      if (rc == 0) return t;
      mdb_txn_abort(t);
      throw_lmdb("txn_renew", rc);
    }
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t);
    if (rc != 0) throw_lmdb("txn_begin (read)", rc);
    return t;
  }

  void give_reader(MDB_txn* t) {
    mdb_txn_reset(t);
    std::lock_guard g(pool_mu_);
    idle_readers_.push_back(t);
  }

  int try_write(std::span<const StoreWrite> writes) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return rc;
    for (const StoreWrite& w : writes) {
      MDB_val k = to_val(w.key);
      MDB_dbi dbi = dbi_[static_cast<int>(w.table)];
      if (w.value != nullptr) {
        MDB_val v = to_val(*w.value);
        rc = mdb_put(txn, dbi, &k, &v, 0);
      } else {
        rc = mdb_del(txn, dbi, &k, nullptr);
        if (rc == MDB_NOTFOUND) rc = 0;
      }
      if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
      }
    }
    return mdb_txn_commit(txn);  // frees txn whatever the result
  }

  void grow() {
    if (map_bytes_ >= options_.max_bytes) {
      throw StoreFull(fmt::format("store '{}' reached its size limit of {} bytes", options_.path,
                                  options_.max_bytes));
    }
    std::unique_lock lock(resize_mu_);  // waits for in-flight reads
    std::size_t next = std::min(options_.max_bytes, map_bytes_ * 2);
    int rc = mdb_env_set_mapsize(env_, next);
    if (rc != 0) throw_lmdb("env_set_mapsize", rc);
    map_bytes_ = next;
    ++resizes_;
  }

  void open_databases() {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
    for (int i = 0; i < kTables; ++i) {
      int rc = mdb_dbi_open(txn, kDbNames[i], MDB_CREATE, &dbi_[i]);
      if (rc != 0) {
        mdb_txn_abort(txn);
        throw_lmdb("dbi_open", rc);
      }
    }
    check(mdb_txn_commit(txn), "txn_commit");
  }

  // One Server per store: LMDB must not be opened twice in one process, and
  // two servers writing one world would break every invariant.
  void lock_exclusive() {
    std::string p = options_.path + "/starhold.lock";
    lock_fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      throw StoreError(fmt::format("cannot open '{}': {}", p, std::strerror(errno)));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd_);
      lock_fd_ = -1;
      throw StoreError(
          fmt::format("store '{}' is already open in another Server or process", options_.path));
    }
  }

  static void check(int rc, const char* what) {
    if (rc != 0) throw_lmdb(what, rc);
  }

  LmdbOptions options_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_[kTables] = {};
  int lock_fd_ = -1;
  std::size_t map_bytes_;  // written by the writer thread under resize_mu_
  std::uint64_t resizes_ = 0;
  std::shared_mutex resize_mu_;  // shared: a read in progress; exclusive: map resize
  std::mutex pool_mu_;
  std::vector<MDB_txn*> idle_readers_;  // guarded by pool_mu_
};

}  // namespace

std::unique_ptr<Store> open_lmdb_store(const LmdbOptions& options) {
  return std::make_unique<LmdbStore>(options);
}

}  // namespace starhold
