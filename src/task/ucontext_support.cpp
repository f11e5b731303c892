// Sanitizer builds run fibers on Boost.Context's ucontext back end, whose
// AddressSanitizer annotations live in its header. Debian's Boost.Context
// library is built for the fcontext back end, so the one out-of-line piece
// the ucontext header needs, the per-thread "current fiber" slot, is
// provided here. Normal builds use fcontext and do not compile this file.
#if defined(BOOST_USE_UCONTEXT)

#include <memory>

#include <boost/context/fiber.hpp>

namespace boost::context::detail {
namespace {
// The record of the thread's own (non-fiber) context, and the running one.
struct ThreadFiberState {
  std::unique_ptr<fiber_activation_record> main{new fiber_activation_record()};
  fiber_activation_record* current = main.get();
};
}  // namespace

fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local ThreadFiberState state;
  return state.current;
}

}  // namespace boost::context::detail

#endif
