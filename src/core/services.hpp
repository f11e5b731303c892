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

// The services of the server running tx's task.
Services& services(Transaction& tx);

}  // namespace starhold::core
