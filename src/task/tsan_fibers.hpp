// ThreadSanitizer follows a switch between fibers only when told of it.
// These calls wrap its fiber interface in ThreadSanitizer builds and do
// nothing otherwise. Each must come immediately before the switch it names.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define STARHOLD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STARHOLD_TSAN 1
#endif
#endif

#if defined(STARHOLD_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace starhold::task::tsan {

#if defined(STARHOLD_TSAN)
inline void* current_fiber() noexcept {
  return __tsan_get_current_fiber();
}
inline void* create_fiber() noexcept {
  return __tsan_create_fiber(0);
}
inline void destroy_fiber(void* f) noexcept {
  if (f != nullptr) __tsan_destroy_fiber(f);
}
inline void switch_to(void* f) noexcept {
  __tsan_switch_to_fiber(f, 0);
}
#else
inline void* current_fiber() noexcept {
  return nullptr;
}
inline void* create_fiber() noexcept {
  return nullptr;
}
inline void destroy_fiber(void*) noexcept {}
inline void switch_to(void*) noexcept {}
#endif

}  // namespace starhold::task::tsan
