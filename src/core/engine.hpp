// Everything a Server owns, in construction order.
#pragma once

#include <memory>

#include "core/log.hpp"
#include "data/data_service.hpp"
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
};

}  // namespace starhold::detail
