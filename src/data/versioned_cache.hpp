// The newest committed version of each recently used key, in memory.
//
// A slot is dirty from the moment a commit installs it until the group
// committer has made it durable; dirty slots are never evicted, so a key
// missing here is current in the store. A reader that missed fills the slot
// from the store with fill(), which refuses (returns null) if anything was
// evicted from the shard since the miss: the store read may then predate a
// commit whose slot was installed, written and evicted meanwhile.
//
// Thread-safe. Each shard has its own mutex; no call holds two.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "data/record.hpp"

namespace starhold::data {

template <class Key, class Value, class Hash = std::hash<Key>>
class VersionedCache {
 public:
  using Ptr = std::shared_ptr<const Value>;

  explicit VersionedCache(std::size_t capacity_bytes)
      : shard_capacity_(capacity_bytes / kShards + 1) {}

  // On a hit sets out (and hot) and returns true. On a miss sets stamp, to be
  // passed to fill() after reading the store.
  bool find(const Key& k, Ptr& out, bool& hot, std::uint64_t& stamp) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it == s.map.end()) {
      stamp = s.evictions;
      return false;
    }
    it->second.referenced = true;
    out = it->second.value;
    hot = it->second.hot;
    return true;
  }

  // Caches v, read from the store after a miss with stamp. Returns what is
  // cached for k now (an existing slot wins), or null if the shard evicted
  // since stamp, in which case the caller must read the store again.
  Ptr fill(const Key& k, Ptr v, std::uint64_t stamp) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it != s.map.end()) return it->second.value;
    if (s.evictions != stamp) return nullptr;
    s.bytes += v->footprint();
    Slot& slot = s.map[k];
    slot.value = v;
    evict_if_needed(s);
    return v;
  }

  // Publishes a committed version. The slot stays dirty until mark_clean.
  void install(const Key& k, Ptr v) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    Slot& slot = s.map[k];
    if (slot.value) s.bytes -= slot.value->footprint();
    s.bytes += v->footprint();
    slot.value = std::move(v);
    slot.dirty = true;
    slot.referenced = true;
    evict_if_needed(s);
  }

  // The commit that wrote version v of k is durable.
  void mark_clean(const Key& k, Version v) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it != s.map.end() && it->second.value->version == v) it->second.dirty = false;
  }

  // Forgets every version that is not durable (after a failed store write).
  void drop_dirty() {
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      for (auto it = s.map.begin(); it != s.map.end();) {
        if (it->second.dirty) {
          s.bytes -= it->second.value->footprint();
          it = s.map.erase(it);
          ++s.evictions;
        } else {
          ++it;
        }
      }
    }
  }

  // Marks k as contended (hot slots are not evicted). No effect if k is not cached.
  void set_hot(const Key& k, bool hot) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it != s.map.end()) it->second.hot = hot;
  }

  std::size_t size() {
    std::size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  static constexpr std::size_t kShards = 64;

  struct Slot {
    Ptr value;
    bool dirty = false;
    bool hot = false;
    bool referenced = true;  // CLOCK bit
  };
  struct alignas(64) Shard {
    std::mutex mu;
    std::unordered_map<Key, Slot, Hash> map;  // guarded by mu
    std::size_t bytes = 0;                    // guarded by mu
    std::uint64_t evictions = 0;              // guarded by mu
  };

  Shard& shard(const Key& k) {
    std::size_t h = Hash{}(k);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return shards_[(h >> 32) % kShards];
  }

  // REQUIRES: s.mu held. Two CLOCK passes at most: the first clears reference
  // bits, the second evicts what was not touched since.
  void evict_if_needed(Shard& s) {
    if (s.bytes <= shard_capacity_) return;
    const std::size_t target = shard_capacity_ - shard_capacity_ / 8;
    for (int pass = 0; pass < 2 && s.bytes > target; ++pass) {
      for (auto it = s.map.begin(); it != s.map.end() && s.bytes > target;) {
        Slot& slot = it->second;
        if (slot.dirty || slot.hot) {
          ++it;
        } else if (slot.referenced) {
          slot.referenced = false;
          ++it;
        } else {
          s.bytes -= slot.value->footprint();
          it = s.map.erase(it);
          ++s.evictions;
        }
      }
    }
  }

  const std::size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace starhold::data
