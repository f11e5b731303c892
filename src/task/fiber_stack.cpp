#include "task/fiber_stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

namespace starhold::task {
namespace {
std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}
}  // namespace

StackPool::StackPool(std::size_t stack_bytes) : reserve_(kKeepFree) {
  const std::size_t page = page_size();
  usable_ = (stack_bytes + page - 1) / page * page;
  if (usable_ < 4 * page) usable_ = 4 * page;
  mapped_ = usable_ + page;
}

StackPool::~StackPool() {
  for (void* base : free_)
    ::munmap(base, mapped_);
}

boost::context::stack_context StackPool::allocate() {
  void* base = nullptr;
  if (!free_.empty()) {
    base = free_.back();
    free_.pop_back();
  } else {
    base = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    ::mprotect(base, page_size(), PROT_NONE);  // guard page at the low end
  }
  reserve_.taken();
  boost::context::stack_context sc;
  sc.size = mapped_;
  sc.sp = static_cast<char*>(base) + mapped_;
  return sc;
}

void StackPool::trim() noexcept {
  while (free_.size() > kKeepFree) {
    ::munmap(free_.back(), mapped_);
    free_.pop_back();
  }
}

void StackPool::deallocate(boost::context::stack_context& sc) noexcept {
  void* base = static_cast<char*>(sc.sp) - sc.size;
  if (reserve_.keep(free_.size())) {
    free_.push_back(base);
  } else {
    ::munmap(base, mapped_);
    if (reserve_.excess(free_.size())) {  // the peak has passed: one more goes
      ::munmap(free_.back(), mapped_);
      free_.pop_back();
    }
  }
}

}  // namespace starhold::task
