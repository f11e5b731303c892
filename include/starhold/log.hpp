// Where a Server's log lines go.
#pragma once

#include <functional>
#include <string_view>

namespace starhold {

enum class LogLevel { debug, info, warn, error };

// Receives every log line at or above ServerOptions::log_level. Called from
// any Starhold thread, possibly concurrently; must not block for long.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;

}  // namespace starhold
