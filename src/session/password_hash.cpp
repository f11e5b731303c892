#include "session/password_hash.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include "net/tls.hpp"

namespace starhold::session {

using net::openssl_reason;

std::string describe(ScryptParams p) {
  return fmt::format("N=2^{}, r={}, p={}", p.cost, kScryptBlockSize, p.parallel);
}

std::string scrypt_params_problem(ScryptParams p) {
  if (p.cost < kScryptMinCost || p.cost > kScryptMaxCost) {
    return fmt::format("N=2^{} is outside 2^{}..2^{} (2^{} takes {} MiB)", p.cost, kScryptMinCost,
                       kScryptMaxCost, kScryptMaxCost,
                       (std::uint64_t{128} * kScryptBlockSize << kScryptMaxCost) >> 20);
  }
  if (p.parallel < 1 || p.parallel > kScryptMaxParallel) {
    return fmt::format("p={} is outside 1..{}", p.parallel, kScryptMaxParallel);
  }
  if ((std::uint64_t{1} << p.cost) * static_cast<std::uint64_t>(p.parallel) >
      (std::uint64_t{1} << kScryptMaxWorkLog2)) {
    return fmt::format("N*p = 2^{}*{} is over 2^{}", p.cost, p.parallel, kScryptMaxWorkLog2);
  }
  return {};
}

bool needs_upgrade(ScryptParams stored, ScryptParams configured) {
  if (stored == configured) return false;
  const auto work = [](ScryptParams p) {
    return (std::uint64_t{1} << p.cost) * static_cast<std::uint64_t>(p.parallel);
  };
  return work(stored) < work(configured) || stored.cost < configured.cost;
}

PasswordHashError::PasswordHashError(ScryptParams params, const std::string& reason)
    : Error(fmt::format("scrypt with {} failed: {}", describe(params), reason)), params_(params) {}

std::string scrypt_hash(const std::string& password, const std::string& salt, ScryptParams p) {
  if (const std::string problem = scrypt_params_problem(p); !problem.empty()) {
    throw PasswordHashError(p, problem);
  }
  const std::uint64_t n = std::uint64_t{1} << p.cost, r = kScryptBlockSize;
  const auto parallel = static_cast<std::uint64_t>(p.parallel);
  // OpenSSL needs 128*r*(N+2) bytes for V and 128*r*p for B.
  const std::uint64_t maxmem = 128 * r * (n + 2 + parallel) + (std::uint64_t{1} << 20);
  std::string out(kPasswordHashBytes, '\0');
  ERR_clear_error();
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r,
                     parallel, maxmem, reinterpret_cast<unsigned char*>(out.data()),
                     out.size()) != 1) {
    throw PasswordHashError(p, openssl_reason());
  }
  return out;
}

std::string new_salt() {
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
      1) {
    throw Error("cannot make a password salt: RAND_bytes failed: " + openssl_reason());
  }
  return salt;
}

}  // namespace starhold::session
