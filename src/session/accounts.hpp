// The default authenticator: accounts in the store, passwords as salted
// scrypt hashes. Hashing is deliberately slow, so it runs on threads of its
// own, never on a worker (a task has 100 ms) or a network thread. Unknown
// names cost the same hashing time as wrong passwords, so timing does not
// reveal which names exist.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "starhold/server.hpp"
#include "starhold/session.hpp"

namespace starhold::task {
class TaskService;
}

namespace starhold::session {

class StoreAuthenticator final : public Authenticator {
 public:
  StoreAuthenticator(task::TaskService& tasks, const ServerOptions& options, Log& log);
  ~StoreAuthenticator() override;

  void authenticate(const Credentials& credentials, std::function<void(AuthResult)> done) override;
  std::future<void> set_password(std::string name, std::string password);

  // scrypt(password, salt) with N = 2^cost; throws std::runtime_error.
  static std::string hash(const std::string& password, const std::string& salt, int cost);
  static std::string new_salt();

 private:
  void run();  // a hashing thread
  void post(std::function<void()> job);

  task::TaskService& tasks_;
  const ServerOptions& options_;
  Log& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace starhold::session
