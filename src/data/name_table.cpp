#include "data/name_table.hpp"

#include "starhold/errors.hpp"

namespace starhold::data {

std::string NameTable::encode(const NameRecord& r) {
  std::string v(16, '\0');
  store_u64le(v.data(), r.version);
  store_u64le(v.data() + 8, r.target);
  return v;
}

NamePtr NameTable::get(std::string_view name) {
  std::string key(name);
  for (;;) {
    NamePtr hit;
    bool hot = false;
    std::uint64_t stamp = 0;
    if (cache_.find(key, hit, hot, stamp)) return hit;
    auto rec = std::make_shared<NameRecord>();
    std::string value;
    if (store_.get(Table::names, key, value)) {
      if (value.size() != 16) {
        throw StoreError("the binding of name '" + key + "' is corrupted (" +
                         std::to_string(value.size()) + " bytes, expected 16)");
      }
      rec->version = load_u64le(value.data());
      rec->target = load_u64le(value.data() + 8);
    }
    if (NamePtr cached = cache_.fill(key, rec, stamp)) return cached;
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

void NameTable::install(const std::string& name, NamePtr rec) {
  cache_.install(name, rec);
  std::lock_guard lock(dirty_mu_);
  dirty_[name] = std::move(rec);
}

void NameTable::retire(const std::vector<Written>& written) {
  std::unique_lock durable(durable_mu_);
  std::lock_guard lock(dirty_mu_);
  for (const Written& w : written) {
    cache_.mark_clean(std::string(w.name), w.version);
    auto it = dirty_.find(w.name);
    if (it != dirty_.end() && it->second->version == w.version) dirty_.erase(it);
  }
}

void NameTable::drop_dirty() {
  std::unique_lock durable(durable_mu_);
  std::lock_guard lock(dirty_mu_);
  dirty_.clear();
  cache_.drop_dirty();
}

}  // namespace starhold::data
