// Stacks for task fibers: mmap'd with a guard page below (an overflow faults
// instead of corrupting memory) and kept for reuse (reuse_reserve.hpp), since
// an attempt is short and mapping a stack per attempt would cost more than
// the attempt.
//
// A pool belongs to one worker thread; attempts never migrate between
// workers, so a stack is always returned to the pool that gave it.
#pragma once

#include <cstddef>
#include <vector>

#include <boost/context/stack_context.hpp>

#include "task/reuse_reserve.hpp"

namespace starhold::task {

class StackPool {
 public:
  explicit StackPool(std::size_t stack_bytes);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sc) noexcept;
  // Whether more stacks are kept than the floor; trim() gives those back (an
  // idle worker's, once a peak has passed with no attempt since to notice).
  bool over_floor() const noexcept { return free_.size() > kKeepFree; }
  void trim() noexcept;

  static constexpr std::size_t kKeepFree = 64;

 private:
  std::size_t usable_;
  std::size_t mapped_;
  std::vector<void*> free_;  // base addresses of mapped regions
  ReuseReserve reserve_;
};

// The StackAllocator boost::context::fiber copies around.
struct PooledStack {
  StackPool* pool;
  boost::context::stack_context allocate() { return pool->allocate(); }
  void deallocate(boost::context::stack_context& sc) noexcept { pool->deallocate(sc); }
};

}  // namespace starhold::task
