#include "core/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace starhold {
namespace {
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "?";
}
}  // namespace

void Log::emit(LogLevel level, std::string_view line) {
  if (sink_) {
    sink_(level, line);
    return;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One fprintf per line keeps lines whole when threads log at once.
  std::fprintf(stderr, "%s.%03dZ starhold %s: %.*s\n", stamp, static_cast<int>(ms),
               level_name(level), static_cast<int>(line.size()), line.data());
}

}  // namespace starhold
