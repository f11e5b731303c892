// The default authenticator: accounts in the store, passwords as salted
// scrypt hashes (password_hash.hpp). Hashing is deliberately slow, so it
// runs on the hashing threads (hash_pool.hpp), never on a worker (a task has
// 100 ms) or a network thread; when their queue is full a login is answered
// busy at once. Unknown names cost the same hashing time as wrong
// passwords, so timing does not reveal which names exist.
//
// A login: a task reads the account; a hashing thread hashes the password
// with the account's stored parameters and compares; the answer goes back.
// When the configured parameters cost more than the stored ones, the same
// thread then hashes the password again with the configured ones and a task
// stores the new hash, unless the password changed meanwhile.
#pragma once

#include <functional>
#include <future>
#include <string>

#include "core/log.hpp"
#include "session/hash_pool.hpp"
#include "session/password_hash.hpp"
#include "starhold/server.hpp"
#include "starhold/session.hpp"

namespace starhold::task {
class TaskService;
}

namespace starhold::session {

class StoreAuthenticator final : public Authenticator {
 public:
  // Throws UsageError if the configured scrypt parameters are out of bounds.
  StoreAuthenticator(task::TaskService& tasks, const ServerOptions& options, Log& log);
  ~StoreAuthenticator() override;

  void authenticate(const Credentials& credentials, std::function<void(AuthResult)> done) override;
  // The future holds UsageError for an invalid name or password,
  // PasswordHashError if the hash could not be computed.
  std::future<void> set_password(std::string name, std::string password);
  // Finishes the hashes under way and cancels the queued ones (their logins
  // fail as unavailable); later logins are answered busy.
  void stop() override { pool_.stop(); }

 private:
  struct Lookup;
  // Answers a login busy: the hashing queue is full.
  void refuse_busy(const std::string& name, const std::function<void(AuthResult)>& done);
  // On a hashing thread: checks password against the stored account.
  void check(const Lookup& found, const std::string& name, const std::string& password,
             const std::function<void(AuthResult)>& done);
  // On a hashing thread: hashes for an account that does not exist.
  void sign_up(const std::string& name, const std::string& password,
               const std::function<void(AuthResult)>& done);
  // On a hashing thread: rehashes with the configured parameters and stores
  // the result if the stored hash is still old_hash.
  void upgrade(const std::string& name, const std::string& password, const Lookup& found);

  task::TaskService& tasks_;
  const ServerOptions& options_;
  const ScryptParams configured_;
  Log& log_;
  HashPool pool_;  // last: its destructor joins threads that use the members above
};

}  // namespace starhold::session
