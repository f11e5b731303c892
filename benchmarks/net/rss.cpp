#include "net/rss.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

namespace netbench {

using namespace std::chrono_literals;

Rss own_rss() {
  std::ifstream in("/proc/self/status");
  Rss r;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) r.vm_rss_kib = std::stol(line.substr(6));
    if (line.rfind("RssAnon:", 0) == 0) r.rss_anon_kib = std::stol(line.substr(8));
  }
  return r;
}

ChildRss ask_rss(Child& child) {
  child.send_line("rss");
  const std::string line = child.read_line(30s);
  ChildRss r;
  if (std::sscanf(line.c_str(), "rss %ld %ld %llu", &r.rss.vm_rss_kib, &r.rss.rss_anon_kib,
                  &r.sessions) != 3)
    throw std::runtime_error("unexpected answer from the server process: " + line);
  return r;
}

void answer_rss(const std::function<unsigned long long()>& sessions) {
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    if (line != "rss") continue;
    const Rss r = own_rss();
    std::printf("rss %ld %ld %llu\n", r.vm_rss_kib, r.rss_anon_kib, sessions());
    std::fflush(stdout);
  }
}

}  // namespace netbench
