// Resident memory: this process's, and a server child's (memory_server, run
// with --memory-server, answers "rss" on its stdin).
#pragma once

#include "net/child_process.hpp"

namespace netbench {

struct Rss {
  long vm_rss_kib = 0, rss_anon_kib = 0;
};

// This process's VmRSS and RssAnon, from /proc/self/status.
Rss own_rss();

struct ChildRss {
  Rss rss;
  unsigned long long sessions = 0;  // the server's active sessions
};

// Asks a memory_server child; throws if it does not answer as expected.
ChildRss ask_rss(Child& child);

}  // namespace netbench
