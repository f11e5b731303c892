// Recently used keys in memory: the newest committed version of each, and the
// versions it superseded while a running snapshot may still read them.
//
// A slot is dirty from the moment a commit installs it until the group
// committer has made it durable; dirty slots are never evicted, so a key
// missing here is current in the store. A reader that missed fills the slot
// from the store with fill(), which refuses (returns null) if anything was
// evicted from the shard since the miss: the store read may then predate a
// commit whose slot was installed, written and evicted meanwhile.
//
// Snapshots. install() keeps the version it replaces in the slot's `older`
// list, so find_at() can answer "the version as of snapshot s". The
// watermark is a version no running or future snapshot is older than; an old
// version is dropped once a newer one at or below the watermark exists, and a
// slot is evicted only when its newest version is at or below the watermark,
// so that what the store holds for a missing key is also what every snapshot
// sees.
//
// Thread-safe. Each shard has its own mutex; no call holds two.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "data/record.hpp"

namespace starhold::data {

template <class Key, class Value, class Hash = std::hash<Key>>
class VersionedCache {
 public:
  using Ptr = std::shared_ptr<const Value>;

  explicit VersionedCache(std::size_t capacity_bytes)
      : shard_capacity_(capacity_bytes / kShards + 1), absent_(std::make_shared<const Value>()) {}

  // On a hit sets out (the newest version) and hot, and returns true. On a
  // miss sets stamp, to be passed to fill() after reading the store.
  bool find(const Key& k, Ptr& out, bool& hot, std::uint64_t& stamp) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it == s.map.end()) {
      stamp = s.evictions;
      return false;
    }
    // Written only when it changes: readers on other cores keep the line shared.
    if (!it->second.referenced) it->second.referenced = true;
    out = it->second.value;
    hot = it->second.hot;
    return true;
  }

  // As find, for the version as of snapshot: the newest one not newer than
  // it. On a hit whose versions no longer reach back that far, out is null.
  bool find_at(const Key& k, Version snapshot, Ptr& out, std::uint64_t& stamp) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it == s.map.end()) {
      stamp = s.evictions;
      return false;
    }
    Slot& slot = it->second;
    if (!slot.referenced) slot.referenced = true;
    out = nullptr;
    if (slot.value->version <= snapshot) {
      out = slot.value;
    } else {
      for (const Ptr& p : slot.older) {
        if (p->version <= snapshot) {
          out = p;
          break;
        }
      }
    }
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

  // Publishes a committed version. previous is the version it replaces (the
  // one the committing transaction validated; null: the key was absent),
  // used when the slot was evicted meanwhile. The slot stays dirty until
  // mark_clean.
  void install(const Key& k, Ptr v, Ptr previous) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mu);
    Slot& slot = s.map[k];
    Ptr replaced;
    if (slot.value) {
      replaced = std::move(slot.value);  // its bytes stay counted, now in older
    } else {
      replaced = previous ? std::move(previous) : absent_;
      if (replaced != absent_) s.bytes += replaced->footprint();
    }
    slot.older.push_front(std::move(replaced));
    s.bytes += v->footprint();
    slot.value = std::move(v);
    slot.dirty = true;
    slot.referenced = true;
    prune(s, slot);
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
          s.bytes -= slot_bytes(it->second);
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

  // No running or future snapshot is older than w.
  void set_watermark(Version w) noexcept { watermark_.store(w, std::memory_order_release); }

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
    std::deque<Ptr> older;  // superseded versions, newest first
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

  std::size_t slot_bytes(const Slot& slot) const {
    std::size_t b = slot.value->footprint();
    for (const Ptr& p : slot.older) {
      if (p != absent_) b += p->footprint();
    }
    return b;
  }

  // REQUIRES: s.mu held. Keeps the older versions a snapshot at or above the
  // watermark can still ask for: those newer than it, and the newest one at
  // or below it (none if the current version already is).
  // From the oldest end, so that it costs what it removes.
  void prune(Shard& s, Slot& slot) {
    const Version w = watermark_.load(std::memory_order_acquire);
    auto drop_oldest = [&] {
      if (slot.older.back() != absent_) s.bytes -= slot.older.back()->footprint();
      slot.older.pop_back();
    };
    if (slot.value->version <= w) {
      while (!slot.older.empty())
        drop_oldest();
      return;
    }
    // Past the newest version at or below w (what a snapshot at w reads),
    // nothing is needed.
    while (slot.older.size() >= 2 && slot.older[slot.older.size() - 2]->version <= w)
      drop_oldest();
  }

  // REQUIRES: s.mu held. Two CLOCK passes at most: the first clears reference
  // bits, the second evicts what was not touched since. A slot newer than the
  // watermark stays: a snapshot may need a version the store no longer has.
  void evict_if_needed(Shard& s) {
    if (s.bytes <= shard_capacity_) return;
    const std::size_t target = shard_capacity_ - shard_capacity_ / 8;
    const Version w = watermark_.load(std::memory_order_acquire);
    for (int pass = 0; pass < 2 && s.bytes > target; ++pass) {
      for (auto it = s.map.begin(); it != s.map.end() && s.bytes > target;) {
        Slot& slot = it->second;
        if (!slot.older.empty()) prune(s, slot);
        if (slot.dirty || slot.hot || slot.value->version > w) {
          ++it;
        } else if (slot.referenced) {
          slot.referenced = false;
          ++it;
        } else {
          s.bytes -= slot_bytes(slot);
          it = s.map.erase(it);
          ++s.evictions;
        }
      }
    }
  }

  const std::size_t shard_capacity_;
  const Ptr absent_;  // the version of a key before its first commit
  std::atomic<Version> watermark_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace starhold::data
