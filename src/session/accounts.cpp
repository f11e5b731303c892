#include "session/accounts.hpp"

#include <openssl/crypto.h>

#include <memory>

#include <fmt/format.h>

#include "session/records.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
namespace {

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxPassword = 1024;
constexpr const char* kWrong = "unknown name or wrong password";

// A name is 1..64 bytes of printable characters, no spaces at either end.
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > kMaxName || n.front() == ' ' || n.back() == ' ') return false;
  for (unsigned char c : n) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

ScryptParams configured_params(const ServerOptions& o) {
  const ScryptParams p{o.password_hash_cost, o.password_hash_parallelism};
  if (const std::string problem = scrypt_params_problem(p); !problem.empty()) {
    throw UsageError(
        fmt::format("password_hash_cost and password_hash_parallelism ({}) cannot be used: {}",
                    describe(p), problem));
  }
  return p;
}

}  // namespace

struct StoreAuthenticator::Lookup {
  bool exists = false;
  std::string salt, hash;
  ScryptParams params;
};

StoreAuthenticator::StoreAuthenticator(task::TaskService& tasks, const ServerOptions& options,
                                       Log& log)
    : tasks_(tasks),
      options_(options),
      configured_(configured_params(options)),
      log_(log),
      pool_(options.password_hash_threads, options.password_hash_queue,
            options.handshake_timeout / 2, log) {}

StoreAuthenticator::~StoreAuthenticator() = default;

void StoreAuthenticator::authenticate(const Credentials& c, std::function<void(AuthResult)> done) {
  if (!valid_name(c.name) || c.password.size() > kMaxPassword) {
    done(AuthResult::reject("invalid name or password"));
    return;
  }
  if (pool_.full()) {  // refused before any work: no task, no hash
    refuse_busy(c.name, done);
    return;
  }
  auto found = std::make_shared<Lookup>();
  auto shared_done = std::make_shared<std::function<void(AuthResult)>>(std::move(done));
  const std::string name = c.name, password = c.password;
  tasks_.submit(
      "starhold.account-lookup",
      [found, name](Transaction& tx) {
        *found = Lookup{};
        if (auto* a = tx.find<Account>(account_name(name))) {
          *found = Lookup{true, a->salt, a->hash, ScryptParams{a->cost, a->parallel}};
        }
      },
      [this, found, name, password, shared_done](std::exception_ptr e) {
        if (e) {
          (*shared_done)(AuthResult::unavailable("the account could not be read"));
          return;
        }
        HashPool::Job job;
        job.run = [this, found, name, password, shared_done] {
          try {
            if (found->exists) {
              check(*found, name, password, *shared_done);
            } else {
              sign_up(name, password, *shared_done);
            }
          } catch (const std::exception& e) {
            log_.error("the login of '{}' could not be checked: {}", name, e.what());
            (*shared_done)(AuthResult::unavailable("the login could not be checked"));
          }
        };
        job.cancel = [shared_done] {
          (*shared_done)(AuthResult::unavailable("the server is stopping"));
        };
        if (!pool_.try_post(std::move(job))) refuse_busy(name, *shared_done);
      });
}

void StoreAuthenticator::refuse_busy(const std::string& name,
                                     const std::function<void(AuthResult)>& done) {
  log_.info("the password-hashing queue is full ({} waiting); the login of '{}' is told to retry",
            pool_.bound(), name);
  done(AuthResult::busy("the server is busy checking other logins; try again in a few seconds"));
}

void StoreAuthenticator::check(const Lookup& found, const std::string& name,
                               const std::string& password,
                               const std::function<void(AuthResult)>& done) {
  if (const std::string problem = scrypt_params_problem(found.params); !problem.empty()) {
    log_.error(
        "the account '{}' cannot be checked: its stored scrypt parameters ({}) are outside "
        "what this server computes ({}); set its password again",
        name, describe(found.params), problem);
    done(AuthResult::unavailable("the account cannot be checked"));
    return;
  }
  if (found.hash.size() != kPasswordHashBytes) {
    log_.error(
        "the account '{}' cannot be checked: its stored hash has {} bytes, not {}; set its "
        "password again",
        name, found.hash.size(), kPasswordHashBytes);
    done(AuthResult::unavailable("the account cannot be checked"));
    return;
  }
  const std::string h = scrypt_hash(password, found.salt, found.params);
  if (CRYPTO_memcmp(h.data(), found.hash.data(), kPasswordHashBytes) != 0) {
    done(AuthResult::reject(kWrong));
    return;
  }
  done(AuthResult::accept(name));
  if (needs_upgrade(found.params, configured_)) upgrade(name, password, found);
}

void StoreAuthenticator::sign_up(const std::string& name, const std::string& password,
                                 const std::function<void(AuthResult)>& done) {
  const std::string salt = new_salt();
  const ScryptParams p = configured_;
  const std::string h = scrypt_hash(password, salt, p);  // also when refusing: same timing
  if (!options_.signup_on_first_login) {
    done(AuthResult::reject(kWrong));
    return;
  }
  // Sign up, unless someone took the name meanwhile.
  auto created = std::make_shared<bool>(false);
  tasks_.submit(
      "starhold.signup",
      [name, salt, h, p, created](Transaction& tx) {
        *created = false;
        if (tx.find<Account>(account_name(name)) != nullptr) return;
        auto& a = tx.create<Account>();
        a.name = name;
        a.salt = salt;
        a.hash = h;
        a.cost = p.cost;
        a.parallel = p.parallel;
        tx.bind(account_name(name), a);
        *created = true;
      },
      [this, name, created, done](std::exception_ptr e) {
        if (e) {
          done(AuthResult::unavailable("the account could not be created"));
        } else if (!*created) {
          done(AuthResult::reject("that name was just taken"));
        } else {
          log_.info("created an account for '{}'", name);
          done(AuthResult::accept(name));
        }
      });
}

void StoreAuthenticator::upgrade(const std::string& name, const std::string& password,
                                 const Lookup& found) {
  try {
    const std::string salt = new_salt();
    const ScryptParams from = found.params, to = configured_;
    const std::string h = scrypt_hash(password, salt, to);
    auto stored = std::make_shared<bool>(false);
    tasks_.submit(
        "starhold.upgrade-password-hash",
        [name, old = found.hash, salt, h, to, stored](Transaction& tx) {
          *stored = false;
          Account* a = tx.find<Account>(account_name(name));
          if (a == nullptr || a->hash != old) return;  // the password changed meanwhile
          a->salt = salt;
          a->hash = h;
          a->cost = to.cost;
          a->parallel = to.parallel;
          *stored = true;
        },
        [this, name, from, to, stored](std::exception_ptr e) {
          if (e) {
            log_.warn("the upgraded password hash of '{}' could not be stored", name);
          } else if (*stored) {
            log_.info("upgraded the password hash of '{}' from {} to {}", name, describe(from),
                      describe(to));
          }
        });
  } catch (const std::exception& e) {
    log_.warn("the password hash of '{}' could not be upgraded: {}", name, e.what());
  }
}

std::future<void> StoreAuthenticator::set_password(std::string name, std::string password) {
  if (!valid_name(name) || password.size() > kMaxPassword) {
    throw UsageError(
        "set_password: the name must be 1 to 64 printable bytes and the password at most 1024");
  }
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> result = promise->get_future();
  HashPool::Job job;
  job.cancel = [promise] {
    promise->set_exception(std::make_exception_ptr(Error("set_password: the server stopped")));
  };
  job.run = [this, name = std::move(name), password = std::move(password), promise] {
    try {
      const std::string salt = new_salt();
      const ScryptParams p = configured_;
      const std::string h = scrypt_hash(password, salt, p);
      tasks_.submit(
          "starhold.set-password",
          [name, salt, h, p](Transaction& tx) {
            Account* a = tx.find<Account>(account_name(name));
            if (a == nullptr) {
              a = &tx.create<Account>();
              a->name = name;
              tx.bind(account_name(name), *a);
            }
            a->salt = salt;
            a->hash = h;
            a->cost = p.cost;
            a->parallel = p.parallel;
          },
          [promise](std::exception_ptr e) {
            if (e) {
              promise->set_exception(e);
            } else {
              promise->set_value();
            }
          });
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  };
  pool_.post(std::move(job));
  return result;
}

}  // namespace starhold::session
