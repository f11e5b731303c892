#include "session/resume_tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include <fmt/format.h>

#include "net/protocol.hpp"

namespace starhold::session {
namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kMacBytes = 32;

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

std::string mac(const std::string& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n) == nullptr ||
      n != kMacBytes) {
    throw std::runtime_error("HMAC-SHA256 failed while signing a resume token");
  }
  return std::string(reinterpret_cast<const char*>(out), n);
}

}  // namespace

std::string ResumeTokens::load_or_create_key(Transaction& tx) {
  if (auto* k = tx.find<ResumeKey>(kResumeKeyName); k != nullptr && k->key.size() == kKeyBytes) {
    return k->key;
  }
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("RAND_bytes could not make the resume key");
  }
  auto* k = tx.find<ResumeKey>(kResumeKeyName);
  if (k == nullptr) {
    k = &tx.create<ResumeKey>();
    tx.bind(kResumeKeyName, *k);
  }
  k->key = key;
  return key;
}

std::uint64_t ResumeTokens::generation(Transaction& tx, std::string_view identity) {
  const auto* g = tx.find<ResumeGeneration>(resume_generation_name(identity));
  return g != nullptr ? g->generation : 0;
}

void ResumeTokens::revoke(Transaction& tx, std::string_view identity) {
  const std::string name = resume_generation_name(identity);
  auto* g = tx.find<ResumeGeneration>(name);
  if (g == nullptr) {
    g = &tx.create<ResumeGeneration>();
    tx.bind(name, *g);
  }
  ++g->generation;
}

std::string ResumeTokens::sign(const std::string& key, const ResumeClaims& c) {
  if (c.identity.size() > kMaxIdentity) return {};
  std::string t;
  t.reserve(1 + 8 + 8 + 2 + c.identity.size() + kMacBytes);
  put(t, kFormat, 1);
  put(t, static_cast<std::uint64_t>(c.expires_ms), 8);
  put(t, c.generation, 8);
  put(t, c.identity.size(), 2);
  t += c.identity;
  t += mac(key, t);
  return t;
}

std::optional<ResumeClaims> ResumeTokens::verify(const std::string& key, std::string_view token,
                                                 std::int64_t now_ms, std::string& why) {
  if (token.size() < kMacBytes + 1) {
    why = "the resume token is malformed";
    return std::nullopt;
  }
  const std::string_view signed_part = token.substr(0, token.size() - kMacBytes);
  const std::string expected = mac(key, signed_part);
  if (CRYPTO_memcmp(expected.data(), token.data() + signed_part.size(), kMacBytes) != 0) {
    why = "the resume token is not one this server issued";
    return std::nullopt;
  }
  ResumeClaims c;
  try {
    net::BodyReader r(signed_part);
    if (r.u8() != kFormat) throw net::ProtocolError(net::Reason::invalid_token, "format");
    c.expires_ms = static_cast<std::int64_t>(r.u64());
    c.generation = r.u64();
    c.identity = std::string(r.str());
    r.done();
  } catch (const net::ProtocolError&) {
    why = "the resume token is malformed";
    return std::nullopt;
  }
  if (c.expires_ms <= now_ms) {
    why = fmt::format("the resume token expired {} s ago", (now_ms - c.expires_ms) / 1000);
    return std::nullopt;
  }
  return c;
}

}  // namespace starhold::session
