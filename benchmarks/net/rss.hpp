// Resident memory: this process's, and a server child's (memory_server and
// memory_raw_server answer "rss" on their stdin).
#pragma once

#include <functional>

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

// The child's side of ask_rss: answers each "rss" line on stdin with "rss
// VMRSS_KIB RSSANON_KIB SESSIONS" (sessions() called at that moment); returns
// at "quit" or end of input.
void answer_rss(const std::function<unsigned long long()>& sessions);

}  // namespace netbench
