// The snapshots of running transactions, so that the data service knows how
// far back superseded versions may still be read (the watermark).
//
// Each transaction object owns a slot for its lifetime. Beginning an attempt
// stores kBeginning, then reads the published version, then stores that as
// the snapshot; ending stores kIdle. oldest() reads the published version
// first and then every slot: a slot seen idle can only begin at or above
// that version, and a slot seen beginning might still read an older one, so
// the watermark does not move past the previous one then. Slots are acquired
// and released under mu_ (rarely: transactions are pooled); begin, move and
// end are lock-free.
#pragma once

#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "data/record.hpp"

namespace starhold::data {

class SnapshotRegistry {
 public:
  class Slot {
   public:
    // Starts a snapshot at the published version and returns it.
    Version begin(const std::atomic<Version>& published) noexcept {
      v_.store(kBeginning, std::memory_order_seq_cst);
      const Version s = published.load(std::memory_order_seq_cst);
      v_.store(s, std::memory_order_seq_cst);
      return s;
    }
    // The snapshot moved up to s.
    void move_to(Version s) noexcept { v_.store(s, std::memory_order_release); }
    void end() noexcept { v_.store(kIdle, std::memory_order_release); }

   private:
    friend class SnapshotRegistry;
    std::atomic<Version> v_{kIdle};
  };

  Slot* acquire() {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      Slot* s = free_.back();
      free_.pop_back();
      return s;
    }
    slots_.push_back(std::make_unique<Slot>());
    return slots_.back().get();
  }

  void release(Slot* s) {
    s->end();
    std::lock_guard lock(mu_);
    free_.push_back(s);
  }

  // A version no running or future snapshot is older than. previous is the
  // last value this returned (0 at first).
  Version oldest(const std::atomic<Version>& published, Version previous) const {
    Version w = published.load(std::memory_order_seq_cst);
    std::lock_guard lock(mu_);
    for (const auto& s : slots_) {
      const Version v = s->v_.load(std::memory_order_seq_cst);
      if (v == kBeginning) return previous;
      w = std::min(w, v);
    }
    return w;
  }

 private:
  static constexpr Version kIdle = std::numeric_limits<Version>::max();
  static constexpr Version kBeginning = 0;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;  // guarded by mu_; never shrinks
  std::vector<Slot*> free_;                   // guarded by mu_
};

}  // namespace starhold::data
