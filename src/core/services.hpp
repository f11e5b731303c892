// The services a task reaches through its Transaction beyond data and tasks.
#pragma once

#include "starhold/task.hpp"

namespace starhold::session {
class SessionService;
}
namespace starhold::channel {
class ChannelService;
}

namespace starhold::core {

struct Services {
  session::SessionService* sessions = nullptr;
  channel::ChannelService* channels = nullptr;
};

}  // namespace starhold::core

namespace starhold::detail {
struct TransactionAccess {
  static core::Services& services(Transaction& tx) noexcept { return *tx.services_; }
};
}  // namespace starhold::detail

namespace starhold::core {
// The services of the server running tx's task.
inline Services& services(Transaction& tx) noexcept {
  return detail::TransactionAccess::services(tx);
}
}  // namespace starhold::core
