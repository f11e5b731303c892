#include "data/data_service.hpp"

#include <thread>

#include <fmt/format.h>

#include "data/type_registry.hpp"
#include "starhold/errors.hpp"

namespace starhold::data {
namespace {

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kSeqKey = "commit_seq";
constexpr std::string_view kNextIdKey = "next_id";

std::string type_key(std::uint32_t hash) {
  return fmt::format("type:{:08x}", hash);
}

std::uint64_t read_meta_u64(Store& store, std::string_view key, std::uint64_t fallback) {
  std::string v;
  if (!store.get(Table::meta, key, v)) return fallback;
  if (v.size() != 8) throw StoreError(fmt::format("store metadata '{}' is corrupted", key));
  return load_u64le(v.data());
}

}  // namespace

void CommitRequest::clear() {
  object_reads.clear();
  object_writes.clear();
  name_reads.clear();
  structure_read.reset();
  name_writes.clear();
  index_writes.clear();
  waiter = nullptr;
  epoch = 0;
}

void DataService::Batch::clear() {
  objects.clear();
  names.clear();
  index.clear();
  commits.clear();
}

DataService::DataService(Store& store, const DataOptions& options, Log& log)
    : store_(store),
      options_(options),
      log_(log),
      objects_(options.cache_bytes - options.cache_bytes / 8),
      names_(store, options.cache_bytes / 8),
      meta_seq_(8, '\0'),
      meta_next_id_(8, '\0') {
  open_format();
}

DataService::~DataService() {
  stop();
}

void DataService::open_format() {
  std::string format;
  if (store_.get(Table::meta, kFormatKey, format)) {
    if (format != std::to_string(kStoreFormat)) {
      throw StoreFormatError(fmt::format(
          "the store was written by Starhold store format {}; this build reads format {} only",
          format, kStoreFormat));
    }
  } else {
    std::string key, value;
    if (store_.next(Table::objects, "", true, key, value) ||
        store_.next(Table::names, "", true, key, value)) {
      throw StoreFormatError(
          "the store holds data but no Starhold format marker; it was not written by Starhold");
    }
  }
  seq_ = read_meta_u64(store_, kSeqKey, 0);
  published_.store(seq_);
  structure_version_.store(seq_);
  released_ = seq_;
  next_id_.store(read_meta_u64(store_, kNextIdKey, 1));

  // Record the names of this program's types, so that a later program that
  // lacks one can say which type a record holds.
  std::vector<std::string> keys, names;
  for (const TypeInfo* t : detail::registered_types()) {
    std::string key = type_key(t->hash), stored;
    if (store_.get(Table::meta, key, stored) && stored == t->name) continue;
    keys.push_back(std::move(key));
    names.emplace_back(t->name);
  }
  std::string format_value = std::to_string(kStoreFormat);
  std::vector<StoreWrite> writes;
  if (format.empty()) writes.push_back({Table::meta, kFormatKey, &format_value});
  for (std::size_t i = 0; i < keys.size(); ++i)
    writes.push_back({Table::meta, keys[i], &names[i]});
  if (!writes.empty()) store_.write(writes);
}

std::vector<std::uint64_t> DataService::stored_task_ids() {
  std::vector<std::uint64_t> ids;
  std::string key, value, cursor;
  for (bool first = true; store_.next(Table::tasks, cursor, first, key, value); first = false) {
    ids.push_back(parse_id_key(key));
    cursor = key;
  }
  return ids;
}

std::string DataService::stored_type_name(std::uint32_t hash) {
  if (const TypeInfo* t = detail::find_type(hash)) return std::string(t->name);
  std::string name;
  if (store_.get(Table::meta, type_key(hash), name)) return name;
  return {};
}

RecordPtr DataService::read_object(std::uint64_t id, bool* hot) {
  IdKey key(id);
  for (;;) {
    RecordPtr hit;
    bool is_hot = false;
    std::uint64_t stamp = 0;
    if (objects_.find(id, hit, is_hot, stamp)) {
      if (hot != nullptr) *hot = is_hot;
      return hit;
    }
    std::string value;
    RecordPtr rec = store_.get(Table::objects, key.view(), value) ? parse_record(std::move(value))
                                                                  : std::make_shared<Record>();
    if (RecordPtr cached = objects_.fill(id, rec, stamp)) {
      if (hot != nullptr) *hot = false;
      return cached;
    }
  }
}

std::exception_ptr DataService::fatal_error() const {
  if (!fatal()) return nullptr;
  std::lock_guard lock(commit_mu_);
  return fatal_error_;
}

RecordPtr DataService::read_object_at(std::uint64_t id, Version snapshot) {
  IdKey key(id);
  for (;;) {
    RecordPtr hit;
    std::uint64_t stamp = 0;
    if (objects_.find_at(id, snapshot, hit, stamp)) return hit;
    std::string value;
    RecordPtr rec = store_.get(Table::objects, key.view(), value) ? parse_record(std::move(value))
                                                                  : std::make_shared<Record>();
    (void)objects_.fill(id, rec, stamp);  // cached or not, look again
  }
}

void DataService::update_watermark() {
  const Version w = snapshots_.oldest(published_, watermark_);
  if (w == watermark_) return;
  watermark_ = w;
  objects_.set_watermark(w);
  names_.set_watermark(w);
}

void DataService::await_published(Version v) const noexcept {
  for (int spins = 0; published_.load(std::memory_order_acquire) < v; ++spins) {
    if (spins > 64) std::this_thread::yield();
  }
}

std::uint64_t DataService::begin_epoch() const noexcept {
  for (int spins = 0;; ++spins) {
    const std::uint64_t e = failure_epoch_.load(std::memory_order_acquire);
    if (e % 2 == 0) return e;
    if (spins > 64) std::this_thread::yield();
  }
}

Version DataService::current_object_version(std::uint64_t id) {
  return read_object(id, nullptr)->version;
}

bool DataService::release_read_only(Version snapshot, std::uint64_t epoch, CommitWaiter& waiter) {
  std::lock_guard lock(release_mu_);
  if (snapshot != released_ || epoch != failure_epoch_.load(std::memory_order_acquire)) {
    return false;
  }
  waiter.committed(snapshot);
  return true;
}

CommitResult DataService::commit(CommitRequest& req) {
  CommitResult result;
  std::unique_lock lock(commit_mu_);
  // Room for one more commit; one commit alone may be larger than the byte bound.
  space_cv_.wait(lock, [&] {
    return (pending_ < options_.max_pending_commits &&
            (pending_ == 0 || pending_bytes_ < options_.max_pending_bytes)) ||
           stopping_;
  });

  if (req.epoch != failure_epoch_.load(std::memory_order_relaxed)) {
    result.conflict_name = "(commits undone by a store failure)";
    return result;
  }
  if (fatal_error_ && !req.read_only()) {
    result.failed = fatal_error_;
    return result;
  }
  // A task that writes nothing read one consistent snapshot: it needs no
  // validation, only its place in commit order.
  if (!req.read_only()) {
    for (const ObjectRead& r : req.object_reads) {
      if (current_object_version(r.id) != r.version) {
        result.conflict_id = r.id;
        return result;
      }
    }
    for (const NameRead& r : req.name_reads) {
      if (names_.get(r.name)->version != r.version) {
        result.conflict_name = r.name;
        return result;
      }
    }
    if (req.structure_read && *req.structure_read != structure_version_.load()) {
      result.conflict_name = "(the set of bound names)";
      return result;
    }
  }

  const Version v = ++seq_;
  std::size_t bytes = 0;
  for (ObjectWrite& w : req.object_writes) {
    Record& rec = *w.record;
    bytes += rec.footprint();
    rec.version = v;
    if (rec.exists()) store_u64le(rec.value.data(), v);
    RecordPtr shared = std::move(w.record);
    objects_.install(w.id, shared, std::move(w.previous));
    batch_.objects.emplace_back(w.id, std::move(shared));
  }
  // The set of bound names changes before any of its names does: an
  // iteration that meets part of this commit's bindings then also finds the
  // structure version moved, and does not trust what it read.
  previous_names_.clear();
  bool structure_changed = false;
  for (const NameWrite& w : req.name_writes) {
    previous_names_.push_back(names_.get(w.name));
    structure_changed |= (previous_names_.back()->target != 0) != (w.target != 0);
  }
  if (structure_changed) structure_version_.store(v, std::memory_order_seq_cst);
  for (std::size_t i = 0; i < req.name_writes.size(); ++i) {
    const NameWrite& w = req.name_writes[i];
    auto rec = std::make_shared<NameRecord>(NameRecord{v, w.target});
    bytes += rec->footprint() + w.name.size();
    names_.install(w.name, rec, std::move(previous_names_[i]));
    batch_.names.emplace_back(w.name, std::move(rec));
  }
  batch_.index.insert(batch_.index.end(), req.index_writes.begin(), req.index_writes.end());
  const bool was_empty = batch_.empty();
  batch_.commits.push_back({v, req.waiter, bytes});
  ++pending_;
  pending_bytes_ += bytes;
  published_.store(v, std::memory_order_release);
  if (was_empty) work_cv_.notify_one();

  result.committed = true;
  result.version = v;
  return result;
}

}  // namespace starhold::data
