// Name bindings: the committed state of each name, cached, over the store.
//
// Point lookups go through a VersionedCache like objects. Ordered iteration
// (next_bound) merges the store with the names whose changes are not durable
// yet (dirty_), under durable_mu_ shared; the committer takes it exclusively
// while it retires dirty names, so an iteration never sees a change in
// neither place. Iteration as of an older snapshot (next_bound_at) also
// visits the names whose unbinding became durable after the watermark
// (tombstones_): the store no longer lists them, but such a snapshot may
// still see them bound.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "data/record.hpp"
#include "data/versioned_cache.hpp"
#include "starhold/store.hpp"

namespace starhold::data {

struct NameRecord {
  Version version = 0;
  std::uint64_t target = 0;  // 0: not bound
  std::size_t footprint() const noexcept { return sizeof(NameRecord) + 64; }
};
using NamePtr = std::shared_ptr<const NameRecord>;

class NameTable {
 public:
  NameTable(Store& store, std::size_t cache_bytes) : store_(store), cache_(cache_bytes) {}

  // The committed state of name. Thread-safe.
  NamePtr get(std::string_view name);
  // Its state as of a running snapshot (null if no longer kept).
  NamePtr get_at(std::string_view name, Version snapshot);

  // The first bound name after `after` in the committed state.
  std::optional<std::string> next_bound(std::string_view after);
  // The same as of a running snapshot.
  std::optional<std::string> next_bound_at(std::string_view after, Version snapshot);

  // REQUIRES: the data service's commit mutex (commits are serial).
  // previous: the state rec replaces.
  void install(const std::string& name, NamePtr rec, NamePtr previous);
  // Called by the committer once these writes are durable.
  struct Written {
    std::string_view name;
    Version version;
  };
  void retire(const std::vector<Written>& written);
  // Forgets everything not durable.
  void drop_dirty();
  // No running or future snapshot is older than w.
  void set_watermark(Version w);

  static std::string encode(const NameRecord& r);

 private:
  Store& store_;
  VersionedCache<std::string, NameRecord> cache_;
  std::shared_mutex durable_mu_;
  std::mutex dirty_mu_;
  std::map<std::string, NamePtr, std::less<>> dirty_;       // guarded by dirty_mu_
  std::map<std::string, Version, std::less<>> tombstones_;  // guarded by dirty_mu_
};

}  // namespace starhold::data
