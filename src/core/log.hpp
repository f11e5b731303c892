// The server's log: fmt-formatted lines to the game's sink or to stderr.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "starhold/log.hpp"

namespace starhold {

class Log {
 public:
  Log(LogSink sink, LogLevel min_level) : sink_(std::move(sink)), min_(min_level) {}

  bool enabled(LogLevel level) const noexcept { return level >= min_; }

  template <class... Args>
  void write(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (!enabled(level)) return;
    emit(level, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) {
    write(LogLevel::debug, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) {
    write(LogLevel::info, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... a) {
    write(LogLevel::warn, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) {
    write(LogLevel::error, f, std::forward<Args>(a)...);
  }

 private:
  void emit(LogLevel level, std::string_view line);

  LogSink sink_;
  LogLevel min_;
};

}  // namespace starhold
