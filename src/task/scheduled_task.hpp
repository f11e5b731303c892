// The stored form of a durable scheduled task. It is a managed object, so
// scheduling, running and cancelling it are ordinary transactional reads and
// writes: a run that commits removes (or re-times) its record in the same
// commit as the game's changes, which is what makes it run exactly once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "starhold/data.hpp"

namespace starhold::detail {

struct ScheduledTask final : Managed<ScheduledTask> {
  static constexpr std::string_view type_name = "starhold.ScheduledTask";

  std::string handler;
  std::string payload;
  std::int64_t due_ms = 0;     // wall clock, milliseconds since the Unix epoch
  std::int64_t period_ms = 0;  // 0: runs once

  ScheduledTask() = default;
  ScheduledTask(std::string h, std::string p, std::int64_t due, std::int64_t period)
      : handler(std::move(h)), payload(std::move(p)), due_ms(due), period_ms(period) {}

  template <class F>
  void fields(F& f) {
    f(1, handler);
    f(2, payload);
    f(3, due_ms);
    f(4, period_ms);
  }
};

}  // namespace starhold::detail
