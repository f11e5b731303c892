// The services a task reaches through its Transaction beyond data and tasks.
#pragma once

#include "starhold/task.hpp"

namespace starhold::session {
class SessionService;
}
namespace starhold::channel {
class ChannelService;
}

namespace starhold::detail {

struct TransactionServices {
  session::SessionService* sessions = nullptr;
  channel::ChannelService* channels = nullptr;
};

// The key TxImpl passes to Transaction's constructor, and the way to a
// transaction's services.
struct TransactionAccess {
  static TransactionServices& services(Transaction& tx) noexcept { return *tx.services_; }
};

}  // namespace starhold::detail

namespace starhold::core {

using Services = detail::TransactionServices;

// The services of the server running tx's task.
inline Services& services(Transaction& tx) noexcept {
  return detail::TransactionAccess::services(tx);
}

}  // namespace starhold::core
