// Everything a Server owns, in construction order.
#pragma once

#include <memory>

#include "channel/channel_service.hpp"
#include "core/log.hpp"
#include "core/services.hpp"
#include "data/data_service.hpp"
#include "session/session_service.hpp"
#include "starhold/server.hpp"
#include "task/task_service.hpp"

namespace starhold::detail {

class Engine {
 public:
  Engine(ServerOptions options, std::unique_ptr<Store> store);
  ~Engine();

  void stop();

  ServerOptions options;
  Log log;
  std::unique_ptr<Store> store;
  data::DataService data;
  task::TaskService tasks;
  session::SessionService sessions;
  channel::ChannelService channels;
  core::Services services;
};

}  // namespace starhold::detail
