// Password hashes of the default authenticator: scrypt (RFC 7914) through
// OpenSSL, with r = 8 and N and p stored beside each hash so that the cost
// can rise over time. The server computes only parameters inside fixed
// bounds, so a stored record cannot make it spend unbounded CPU or memory.
#pragma once

#include <cstdint>
#include <string>

#include "starhold/errors.hpp"

namespace starhold::session {

struct ScryptParams {
  int cost = 0;      // log2 of N
  int parallel = 1;  // p
  friend bool operator==(const ScryptParams&, const ScryptParams&) = default;
};

inline constexpr int kScryptBlockSize = 8;     // r
inline constexpr int kScryptMinCost = 4;       // N >= 16
inline constexpr int kScryptMaxCost = 18;      // N <= 2^18: 256 MiB with r = 8
inline constexpr int kScryptMaxParallel = 16;  // p <= 16
inline constexpr int kScryptMaxWorkLog2 = 20;  // N * p <= 2^20
inline constexpr std::size_t kPasswordHashBytes = 32;

// Why the server will not compute with p ("N=2^30 is over 2^18 ..."), or
// empty if it will.
std::string scrypt_params_problem(ScryptParams p);
// "N=2^14, r=8, p=5"
std::string describe(ScryptParams p);
// Whether a hash stored with `stored` should be recomputed with `configured`:
// when the configured parameters cost more time (N * p) or more memory (N).
bool needs_upgrade(ScryptParams stored, ScryptParams configured);

// scrypt could not compute a hash (OpenSSL refused the parameters or ran
// out of memory). The message names the parameters and OpenSSL's reason.
class PasswordHashError : public Error {
 public:
  PasswordHashError(ScryptParams params, const std::string& reason);
  ScryptParams params() const noexcept { return params_; }

 private:
  ScryptParams params_;
};

// The kPasswordHashBytes-byte scrypt hash of password with salt. Throws
// PasswordHashError, also for parameters outside the bounds above.
std::string scrypt_hash(const std::string& password, const std::string& salt, ScryptParams p);
// A random 16-byte salt. Throws starhold::Error if OpenSSL's generator fails.
std::string new_salt();

}  // namespace starhold::session
