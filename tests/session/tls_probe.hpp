// A TLS client on raw OpenSSL, for tests that need to choose exactly what a
// client offers (protocol versions, cipher suites, trust anchors) and to
// speak the Starhold protocol over what was negotiated.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "support/raw_client.hpp"

namespace test {

class TlsProbe {
 public:
  // Sets up the client's SSL_CTX before the handshake (versions, suites...).
  using Configure = std::function<void(SSL_CTX*)>;

  // Connects to 127.0.0.1:port from source_ip, sends preamble in the clear
  // (e.g. a PROXY protocol header), then performs a TLS handshake. When
  // ca_file is given the server's certificate must chain to it and name
  // "localhost".
  TlsProbe(std::uint16_t port, const Configure& configure, const std::string& ca_file = {},
           const std::string& source_ip = "127.0.0.1", std::string_view preamble = {});
  ~TlsProbe();
  TlsProbe(const TlsProbe&) = delete;
  TlsProbe& operator=(const TlsProbe&) = delete;

  bool connected() const noexcept { return connected_; }
  // OpenSSL's reason when the handshake failed.
  const std::string& error() const noexcept { return error_; }
  std::string protocol() const;  // "TLSv1.3", ...
  std::string cipher() const;

  // The Starhold protocol over the TLS connection.
  void send(std::uint8_t op, std::string_view body = {});
  std::optional<Frame> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<Frame> read_skipping_heartbeats(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // HELLO, then LOGIN; the reply.
  std::optional<Frame> hello_and_login(std::string_view name, std::string_view password);

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string error_;
  std::string buffer_;
};

// The client's side of "only this version": min and max protocol version,
// at the security level that still allows it.
void offer_only_version(SSL_CTX* ctx, int version);
// TLS 1.2 with only the given OpenSSL cipher list (no TLS 1.3).
void offer_only_tls12_ciphers(SSL_CTX* ctx, const char* ciphers);

}  // namespace test
