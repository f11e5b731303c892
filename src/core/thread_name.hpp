// Names the calling thread, so that top -H, perf and /proc show which of
// Starhold's threads spends what: sh-net-N (network), sh-worker-N (tasks),
// sh-commit, sh-timer, sh-hash-N, sh-client. Linux keeps 15 bytes of a name.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <string>

namespace starhold::core {

inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

inline void name_this_thread(const std::string& base, std::size_t index) {
  name_this_thread(base + "-" + std::to_string(index));
}

}  // namespace starhold::core
