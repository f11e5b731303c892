#include "data/name_table.hpp"

#include "starhold/errors.hpp"

namespace starhold::data {

std::string NameTable::encode(const NameRecord& r) {
  std::string v(16, '\0');
  store_u64le(v.data(), r.version);
  store_u64le(v.data() + 8, r.target);
  return v;
}

namespace {

NamePtr parse_name(const std::string& key, const std::string& value) {
  if (value.size() != 16) {
    throw StoreError("the binding of name '" + key + "' is corrupted (" +
                     std::to_string(value.size()) + " bytes, expected 16)");
  }
  return std::make_shared<NameRecord>(
      NameRecord{load_u64le(value.data()), load_u64le(value.data() + 8)});
}

}  // namespace

NamePtr NameTable::get(std::string_view name) {
  std::string key(name);
  for (;;) {
    NamePtr hit;
    bool hot = false;
    std::uint64_t stamp = 0;
    if (cache_.find(key, hit, hot, stamp)) return hit;
    std::string value;
    NamePtr rec = store_.get(Table::names, key, value) ? parse_name(key, value)
                                                       : std::make_shared<NameRecord>();
    if (NamePtr cached = cache_.fill(key, rec, stamp)) return cached;
  }
}

NamePtr NameTable::get_at(std::string_view name, Version snapshot) {
  std::string key(name);
  for (;;) {
    NamePtr hit;
    std::uint64_t stamp = 0;
    if (cache_.find_at(key, snapshot, hit, stamp)) return hit;
    std::string value;
    NamePtr rec = store_.get(Table::names, key, value) ? parse_name(key, value)
                                                       : std::make_shared<NameRecord>();
    (void)cache_.fill(key, rec, stamp);  // cached or not, look again
  }
}

std::optional<std::string> NameTable::next_bound_at(std::string_view after, Version snapshot) {
  std::shared_lock durable(durable_mu_);
  std::string cursor(after);
  std::string key, value;
  for (;;) {
    // The next name any of the three places knows of; whether it was bound
    // at the snapshot is the point lookup's answer.
    std::optional<std::string> next;
    if (store_.next(Table::names, cursor, false, key, value)) next = key;
    {
      std::lock_guard lock(dirty_mu_);
      auto d = dirty_.upper_bound(cursor);
      if (d != dirty_.end() && (!next || d->first < *next)) next = d->first;
      auto t = tombstones_.upper_bound(cursor);
      if (t != tombstones_.end() && (!next || t->first < *next)) next = t->first;
    }
    if (!next) return std::nullopt;
    NamePtr rec = get_at(*next, snapshot);
    if (rec == nullptr) {
      throw StoreError("the versions kept of name '" + *next +
                       "' do not reach back to a "
                       "running snapshot");
    }
    if (rec->target != 0) return next;
    cursor = std::move(*next);
  }
}

std::optional<std::string> NameTable::next_bound(std::string_view after) {
  std::shared_lock durable(durable_mu_);
  std::string cursor(after);
  std::string key, value;
  for (;;) {
    const bool in_store = store_.next(Table::names, cursor, false, key, value);
    std::lock_guard lock(dirty_mu_);
    auto it = dirty_.upper_bound(cursor);
    if (it != dirty_.end() && (!in_store || it->first <= key)) {
      if (it->second->target != 0) return it->first;
      cursor = it->first;  // unbound and not yet durable: skip it, also in the store
      continue;
    }
    if (in_store) return key;
    return std::nullopt;
  }
}

void NameTable::install(const std::string& name, NamePtr rec, NamePtr previous) {
  cache_.install(name, rec, std::move(previous));
  std::lock_guard lock(dirty_mu_);
  dirty_[name] = std::move(rec);
}

void NameTable::retire(const std::vector<Written>& written) {
  std::unique_lock durable(durable_mu_);
  std::lock_guard lock(dirty_mu_);
  for (const Written& w : written) {
    cache_.mark_clean(std::string(w.name), w.version);
    auto it = dirty_.find(w.name);
    if (it != dirty_.end() && it->second->version == w.version) {
      // The store no longer lists a name unbound for good; older snapshots may.
      if (it->second->target == 0) tombstones_[std::string(w.name)] = w.version;
      dirty_.erase(it);
    }
  }
}

void NameTable::drop_dirty() {
  std::unique_lock durable(durable_mu_);
  std::lock_guard lock(dirty_mu_);
  dirty_.clear();
  cache_.drop_dirty();
}

void NameTable::set_watermark(Version w) {
  cache_.set_watermark(w);
  std::lock_guard lock(dirty_mu_);
  std::erase_if(tombstones_, [w](const auto& t) { return t.second <= w; });
}

}  // namespace starhold::data
