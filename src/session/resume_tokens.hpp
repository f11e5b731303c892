// Resume tokens: signed, expiring proofs that a client logged in as an
// identity, which let it log in again (RESUME) without its password, even
// after the server restarted.
//
// A token is, in the protocol's encoding (opaque to clients):
//   u8 format = 1, u64 expires_ms (wall clock, ms since the Unix epoch),
//   u64 generation, str identity, then 32 bytes of HMAC-SHA256 over all of
//   that under the server's resume key.
// The key (32 random bytes) is a record in the store, made at the first
// start, so tokens survive restarts and crashes. Each identity has a
// generation (0 until revoked); revoking increments it, and a token is good
// only while it carries the current generation. Identities longer than
// kMaxIdentity get no token.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "starhold/data.hpp"
#include "starhold/task.hpp"

namespace starhold::session {

// The server's resume key. Bound to kResumeKeyName.
struct ResumeKey final : Managed<ResumeKey> {
  static constexpr std::string_view type_name = "starhold.ResumeKey";
  std::string key;
  template <class F>
  void fields(F& f) {
    f(1, key);
  }
};

// An identity's token generation. Bound to resume_generation_name(identity).
struct ResumeGeneration final : Managed<ResumeGeneration> {
  static constexpr std::string_view type_name = "starhold.ResumeGeneration";
  std::uint64_t generation = 0;
  template <class F>
  void fields(F& f) {
    f(1, generation);
  }
};

inline constexpr std::string_view kResumeKeyName = "starhold.resume.key";
inline std::string resume_generation_name(std::string_view identity) {
  return "starhold.resume.identity." + std::string(identity);
}

struct ResumeClaims {
  std::string identity;
  std::uint64_t generation = 0;
  std::int64_t expires_ms = 0;
};

class ResumeTokens {
 public:
  static constexpr std::size_t kMaxIdentity = 255;
  static constexpr std::size_t kKeyBytes = 32;

  // The key in the store, made now if there is none (in tx).
  static std::string load_or_create_key(Transaction& tx);
  // The identity's current generation (in tx).
  static std::uint64_t generation(Transaction& tx, std::string_view identity);
  // Makes every token issued so far for identity invalid (in tx).
  static void revoke(Transaction& tx, std::string_view identity);

  // A token for claims under key; empty if the identity is too long.
  static std::string sign(const std::string& key, const ResumeClaims& claims);
  // The claims of token if it is well formed, signed under key and not
  // expired at now_ms; otherwise nullopt, and why says what is wrong.
  static std::optional<ResumeClaims> verify(const std::string& key, std::string_view token,
                                            std::int64_t now_ms, std::string& why);
};

}  // namespace starhold::session
