#include "session/tls_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace test {

namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error (the peer closed)";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

int connect_from(const std::string& source_ip, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect from " + source_ip);
  }
  return fd;
}

}  // namespace

TlsProbe::TlsProbe(std::uint16_t port, const Configure& configure, const std::string& ca_file,
                   const std::string& source_ip, std::string_view preamble) {
  fd_ = connect_from(source_ip, port);
  while (!preamble.empty()) {
    const ssize_t n = ::send(fd_, preamble.data(), preamble.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    preamble.remove_prefix(static_cast<std::size_t>(n));
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ca_file.empty()) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
  }
  if (configure) configure(ctx_);
  ssl_ = SSL_new(ctx_);
  if (!ca_file.empty()) SSL_set1_host(ssl_, "localhost");
  SSL_set_fd(ssl_, fd_);
  ERR_clear_error();
  if (SSL_connect(ssl_) == 1) {
    connected_ = true;
  } else {
    error_ = openssl_error();
  }
}

TlsProbe::~TlsProbe() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

std::string TlsProbe::protocol() const {
  return SSL_get_version(ssl_);
}

std::string TlsProbe::cipher() const {
  return SSL_get_cipher_name(ssl_);
}

void TlsProbe::send(std::uint8_t op, std::string_view body) {
  const std::string f = frame(op, body);
  if (SSL_write(ssl_, f.data(), static_cast<int>(f.size())) <= 0) ERR_clear_error();
}

std::optional<Frame> TlsProbe::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buffer_.size() >= 4) {
      const std::uint32_t len =
          (static_cast<std::uint32_t>(get16(buffer_, 0)) << 16) | get16(buffer_, 2);
      if (len >= 1 && buffer_.size() >= 4 + len) {
        Frame f{static_cast<std::uint8_t>(buffer_[4]), buffer_.substr(5, len - 1)};
        buffer_.erase(0, 4 + len);
        return f;
      }
    }
    if (SSL_pending(ssl_) == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return std::nullopt;
      }
    }
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<Frame> TlsProbe::read_skipping_heartbeats(std::chrono::milliseconds timeout) {
  for (;;) {
    auto f = read(timeout);
    if (!f || f->op != op::heartbeat) return f;
  }
}

std::optional<Frame> TlsProbe::hello_and_login(std::string_view name, std::string_view password) {
  send(op::hello, be32(0x53484C44) + be16(kProtocolVersion));
  auto welcome = read();
  if (!welcome || welcome->op != op::welcome) return welcome;
  send(op::login, str16(name) + str16(password));
  return read_skipping_heartbeats();
}

void offer_only_version(SSL_CTX* ctx, int version) {
  SSL_CTX_set_security_level(ctx, 0);  // TLS 1.1 and older need level 0 in OpenSSL 3
  SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
}

void offer_only_tls12_ciphers(SSL_CTX* ctx, const char* ciphers) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, ciphers);
}

}  // namespace test
