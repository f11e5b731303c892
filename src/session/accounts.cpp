#include "session/accounts.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "session/records.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
namespace {

constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxPassword = 1024;

// A name is 1..64 bytes of printable characters, no spaces at either end.
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > kMaxName || n.front() == ' ' || n.back() == ' ') return false;
  for (unsigned char c : n) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

struct Lookup {
  bool exists = false;
  std::string salt, hash;
  int cost = 0;
};

}  // namespace

StoreAuthenticator::StoreAuthenticator(task::TaskService& tasks, const ServerOptions& options,
                                       Log& log)
    : tasks_(tasks), options_(options), log_(log) {
  const unsigned n = options.password_hash_threads > 0
                         ? static_cast<unsigned>(options.password_hash_threads)
                         : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i)
    threads_.emplace_back([this] { run(); });
}

StoreAuthenticator::~StoreAuthenticator() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

std::string StoreAuthenticator::new_salt() {
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
      1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return salt;
}

std::string StoreAuthenticator::hash(const std::string& password, const std::string& salt,
                                     int cost) {
  std::string out(kHashBytes, '\0');
  const std::uint64_t n = std::uint64_t{1} << cost;
  const std::uint64_t r = 8, p = 1;
  const std::uint64_t maxmem = 128 * r * n + (std::uint64_t{1} << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                     maxmem, reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    throw std::runtime_error("scrypt failed");
  }
  return out;
}

void StoreAuthenticator::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StoreAuthenticator::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      log_.error("authentication failed internally: {}", e.what());
    }
    lock.lock();
  }
}

void StoreAuthenticator::authenticate(const Credentials& c, std::function<void(AuthResult)> done) {
  if (!valid_name(c.name) || c.password.size() > kMaxPassword) {
    done(AuthResult::reject("invalid name or password"));
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
          *found = Lookup{true, a->salt, a->hash, a->cost};
        }
      },
      [this, found, name, password, shared_done](std::exception_ptr e) {
        if (e) {
          (*shared_done)(AuthResult::reject("the account could not be read"));
          return;
        }
        // Hash off the committer thread.
        post([this, found, name, password, shared_done] {
          const int cost = options_.password_hash_cost;
          if (found->exists) {
            const std::string h = hash(password, found->salt, found->cost);
            const bool ok = CRYPTO_memcmp(h.data(), found->hash.data(), kHashBytes) == 0 &&
                            found->hash.size() == kHashBytes;
            (*shared_done)(ok ? AuthResult::accept(name)
                              : AuthResult::reject("unknown name or wrong password"));
            return;
          }
          const std::string salt = new_salt();
          const std::string h = hash(password, salt, cost);  // also when refusing: same timing
          if (!options_.signup_on_first_login) {
            (*shared_done)(AuthResult::reject("unknown name or wrong password"));
            return;
          }
          // Sign up, unless someone took the name meanwhile.
          auto created = std::make_shared<bool>(false);
          tasks_.submit(
              "starhold.signup",
              [name, salt, h, cost, created](Transaction& tx) {
                *created = false;
                if (tx.find<Account>(account_name(name)) != nullptr) return;
                auto& a = tx.create<Account>();
                a.name = name;
                a.salt = salt;
                a.hash = h;
                a.cost = cost;
                tx.bind(account_name(name), a);
                *created = true;
              },
              [this, name, created, shared_done](std::exception_ptr e2) {
                if (e2 || !*created) {
                  (*shared_done)(AuthResult::reject(e2 ? "the account could not be created"
                                                       : "that name was just taken"));
                  return;
                }
                log_.info("created an account for '{}'", name);
                (*shared_done)(AuthResult::accept(name));
              });
        });
      });
}

std::future<void> StoreAuthenticator::set_password(std::string name, std::string password) {
  if (!valid_name(name) || password.size() > kMaxPassword) {
    throw UsageError(
        "set_password: the name must be 1 to 64 printable bytes and the password at most 1024");
  }
  const std::string salt = new_salt();
  const int cost = options_.password_hash_cost;
  const std::string h = hash(password, salt, cost);
  return tasks_.submit_future("starhold.set-password", [name, salt, h, cost](Transaction& tx) {
    Account* a = tx.find<Account>(account_name(name));
    if (a == nullptr) {
      a = &tx.create<Account>();
      a->name = name;
      tx.bind(account_name(name), *a);
    }
    a->salt = salt;
    a->hash = h;
    a->cost = cost;
  });
}

}  // namespace starhold::session
