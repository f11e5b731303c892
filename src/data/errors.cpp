#include "starhold/errors.hpp"

#include <fmt/format.h>

namespace starhold {

ObjectNotFound::ObjectNotFound(std::uint64_t id, std::string type)
    : Error(
          fmt::format("object #{} ({}) does not exist: it was removed or never created", id, type)),
      id_(id),
      type_(std::move(type)) {}

WrongType::WrongType(std::uint64_t id, std::string stored, std::string expected)
    : Error(fmt::format("object #{} is a {}, not a {}", id, stored, expected)),
      id_(id),
      stored_(std::move(stored)),
      expected_(std::move(expected)) {}

NameNotBound::NameNotBound(std::string name)
    : Error(fmt::format("no object is bound to the name '{}'", name)), name_(std::move(name)) {}

DecodeError::DecodeError(std::uint64_t id, std::string type, std::string detail)
    : Error(fmt::format("object #{} ({}) cannot be decoded: {}", id, type, detail)),
      id_(id),
      type_(std::move(type)) {}

UnknownType::UnknownType(std::uint64_t id, std::uint32_t type_hash, std::string stored_name)
    : Error(stored_name.empty()
                ? fmt::format("object #{} has type hash {:#010x}, which no type in this program "
                              "registers",
                              id, type_hash)
                : fmt::format("object #{} is a '{}', a type this program does not register (link "
                              "its class or call starhold::register_type)",
                              id, stored_name)),
      id_(id) {}

namespace {
const char* cause_name(TaskFailed::Cause c) {
  switch (c) {
    case TaskFailed::Cause::exception:
      return "threw";
    case TaskFailed::Cause::timeout:
      return "kept exceeding its time limit";
    case TaskFailed::Cause::conflict:
      return "kept conflicting";
    case TaskFailed::Cause::storage:
      return "could not be stored";
    case TaskFailed::Cause::shutdown:
      return "was cancelled by shutdown";
    case TaskFailed::Cause::overload:
      return "found no room on the server";
  }
  return "failed";
}
}  // namespace

TaskFailed::TaskFailed(std::string task, Cause cause, std::string detail)
    : Error(fmt::format("task '{}' {}: {}", task, cause_name(cause), detail)),
      task_(std::move(task)),
      cause_(cause) {}

}  // namespace starhold
