// Managed records of the session service.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "starhold/session.hpp"

namespace starhold::session {

// A live session, in the store so that tasks can use it and so that a crash
// leaves a trace the next start can clean up (telling the game). Bound to
// identity_name(identity).
struct SessionRecord final : Managed<SessionRecord> {
  static constexpr std::string_view type_name = "starhold.Session";
  std::string identity;
  Ref<SessionListener> listener;
  std::int64_t login_ms = 0;
  template <class F>
  void fields(F& f) {
    f(1, identity);
    f(2, listener);
    f(3, login_ms);
  }
};

// An account of the default authenticator: a scrypt hash with r = 8 and the
// N and p it was made with. Bound to account_name(name).
struct Account final : Managed<Account> {
  static constexpr std::string_view type_name = "starhold.Account";
  std::string name;
  std::string salt;
  std::string hash;
  std::int32_t cost = 0;      // scrypt log2 N
  std::int32_t parallel = 1;  // scrypt p (records older than this field: 1)
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, salt);
    f(3, hash);
    f(4, cost);
    f(5, parallel);
  }
};

inline constexpr std::string_view kIdentityPrefix = "starhold.identity.";
inline constexpr std::string_view kAccountPrefix = "starhold.account.";
inline constexpr std::string_view kInitializedName = "starhold.world.initialized";

inline std::string identity_name(std::string_view identity) {
  return std::string(kIdentityPrefix) + std::string(identity);
}
inline std::string account_name(std::string_view name) {
  return std::string(kAccountPrefix) + std::string(name);
}

}  // namespace starhold::session
