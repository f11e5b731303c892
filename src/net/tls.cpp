#include "net/tls.hpp"

#include "starhold/errors.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

namespace starhold::net {
namespace {

class TlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "starhold.tls"; }
  std::string message(int ev) const override {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ev), buf, sizeof buf);
    return buf;
  }
};

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with
// write(2), which raises SIGPIPE (killing the process) when the peer has
// gone. Reads and everything else behave as OpenSSL's socket BIO.
int nosignal_write(BIO* bio, const char* data, int n) {
  const int fd = static_cast<int>(BIO_get_fd(bio, nullptr));
  BIO_clear_retry_flags(bio);
  const ssize_t w = ::send(fd, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    BIO_set_retry_write(bio);
  return static_cast<int>(w);
}

int nosignal_read(BIO* bio, char* data, int n) {
  const int fd = static_cast<int>(BIO_get_fd(bio, nullptr));
  BIO_clear_retry_flags(bio);
  const ssize_t r = ::recv(fd, data, static_cast<std::size_t>(n), 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(bio);
  return static_cast<int>(r);
}

const BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "starhold socket");
    BIO_meth_set_write(m, nosignal_write);
    BIO_meth_set_read(m, nosignal_read);
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    return m;
  }();
  return method;
}

constexpr long kModes =
    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;

// TLS 1.2 suites: forward secret (ECDHE) and AEAD (GCM, ChaCha20-Poly1305)
// only; no CBC, no RSA key exchange.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3 suites (all AEAD), named rather than left to the library's defaults.
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// Starhold's TLS policy, for both sides: TLS 1.2 or newer, the suites
// above, no renegotiation, no compression.
void apply_policy(SSL_CTX* ctx) {
  SSL_CTX_set_mode(ctx, kModes);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) {
    throw TlsError("cannot apply the TLS policy: " + openssl_reason());
  }
}

// Writes path through a new file beside it, created with `mode` (never
// widened later), then renamed over path: readers see the old file or the
// whole new one.
template <class Emit>
void write_file(const std::string& path, mode_t mode, Emit&& emit) {
  std::string tmp = path + ".XXXXXX";
  // mkostemp creates 0600; a wider mode needs an open() of a name of our own.
  int fd = -1;
  if (mode == 0600) {
    fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  } else {
    unsigned char r[6];
    if (RAND_bytes(r, sizeof r) != 1) throw TlsError("RAND_bytes failed: " + openssl_reason());
    tmp = fmt::format("{}.{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", path, r[0], r[1], r[2], r[3], r[4],
                      r[5]);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  }
  if (fd < 0) throw TlsError(fmt::format("cannot create '{}': {}", tmp, std::strerror(errno)));
  std::unique_ptr<FILE, decltype(&std::fclose)> f(::fdopen(fd, "w"), std::fclose);
  if (!f) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw TlsError(fmt::format("cannot write '{}': {}", tmp, std::strerror(errno)));
  }
  const bool written = emit(f.get()) == 1 && std::fflush(f.get()) == 0 && ::fsync(fd) == 0;
  f.reset();
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw TlsError(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  }
}

}  // namespace

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no reason given by OpenSSL";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool is_ip_literal(const std::string& host) {
  ErrorCode ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

const boost::system::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

// ---- TlsContext ------------------------------------------------------------

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_file,
                                               const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new failed: " + openssl_reason());
  std::shared_ptr<TlsContext> c(new TlsContext(ctx, false));
  apply_policy(ctx);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    throw TlsError(fmt::format("cannot use TLS certificate '{}': {}", cert_file, openssl_reason()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw TlsError(fmt::format("cannot use TLS key '{}': {}", key_file, openssl_reason()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw TlsError(fmt::format("TLS key '{}' does not match certificate '{}': {}", key_file,
                               cert_file, openssl_reason()));
  }
  return c;
}

std::shared_ptr<TlsContext> TlsContext::client(const std::string& ca_file, bool verify) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new failed: " + openssl_reason());
  std::shared_ptr<TlsContext> c(new TlsContext(ctx, verify));
  apply_policy(ctx);
  if (verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                   : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    if (ok != 1) {
      throw std::runtime_error(
          fmt::format("cannot load TLS trust anchors '{}': {}", ca_file, openssl_reason()));
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return c;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

// ---- TlsStream -------------------------------------------------------------

TlsStream::TlsStream(boost::asio::ip::tcp::socket socket, const TlsContext& ctx, bool server,
                     const std::string& host)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx.native())), server_(server) {
  if (ssl_ == nullptr) throw std::runtime_error("SSL_new failed: " + openssl_reason());
  socket_.non_blocking(true);
  BIO* bio = BIO_new(nosignal_socket_method());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::runtime_error("BIO_new failed: " + openssl_reason());
  }
  BIO_set_fd(bio, static_cast<int>(socket_.native_handle()), BIO_NOCLOSE);
  SSL_set_bio(ssl_, bio, bio);
  if (!server && !host.empty()) {
    if (!is_ip_literal(host))
      SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI is for names only
    if (ctx.verifies()) SSL_set1_host(ssl_, host.c_str());
  }
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

TlsStream::Want TlsStream::classify(int rc, ErrorCode& ec) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_NONE:
      return Want::done;
    case SSL_ERROR_WANT_READ:
      return Want::read;
    case SSL_ERROR_WANT_WRITE:
      return Want::write;
    case SSL_ERROR_ZERO_RETURN:
      ec = boost::asio::error::eof;
      return Want::failed;
    case SSL_ERROR_SYSCALL: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      if (e != 0) {
        ec = ErrorCode(static_cast<int>(e), tls_category());
      } else if (errno != 0) {
        ec = ErrorCode(errno, boost::system::system_category());
      } else {
        ec = boost::asio::error::eof;  // the peer closed without close_notify
      }
      return Want::failed;
    }
    default: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      ec = ErrorCode(static_cast<int>(e != 0 ? e : 1), tls_category());
      return Want::failed;
    }
  }
}

void TlsStream::async_handshake(Handler done) {
  step_handshake(std::move(done));
}

void TlsStream::step_handshake(Handler done) {
  ERR_clear_error();
  errno = 0;
  const int rc = server_ ? SSL_accept(ssl_) : SSL_connect(ssl_);
  ErrorCode ec;
  const Want w = rc == 1 ? Want::done : classify(rc, ec);
  if (w == Want::done || w == Want::failed) {
    boost::asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec); });
    return;
  }
  socket_.async_wait(
      w == Want::read ? boost::asio::socket_base::wait_read : boost::asio::socket_base::wait_write,
      [this, done = std::move(done)](ErrorCode e) mutable {
        if (e) return done(e);
        step_handshake(std::move(done));
      });
}

void TlsStream::async_wait_readable(Handler done) {
  if (SSL_has_pending(ssl_) == 1) {
    boost::asio::post(socket_.get_executor(), [done = std::move(done)] { done(ErrorCode()); });
    return;
  }
  socket_.async_wait(boost::asio::socket_base::wait_read, std::move(done));
}

void TlsStream::async_read_some(char* buf, std::size_t n, ReadHandler done) {
  step_read(buf, n, std::move(done));
}

void TlsStream::step_read(char* buf, std::size_t n, ReadHandler done) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_read(ssl_, buf, static_cast<int>(n));
  ErrorCode ec;
  const Want w = rc > 0 ? Want::done : classify(rc, ec);
  if (w == Want::done || w == Want::failed) {
    const std::size_t got = rc > 0 ? static_cast<std::size_t>(rc) : 0;
    boost::asio::post(socket_.get_executor(), [done = std::move(done), ec, got] { done(ec, got); });
    return;
  }
  socket_.async_wait(
      w == Want::read ? boost::asio::socket_base::wait_read : boost::asio::socket_base::wait_write,
      [this, buf, n, done = std::move(done)](ErrorCode e) mutable {
        if (e) return done(e, 0);
        step_read(buf, n, std::move(done));
      });
}

void TlsStream::async_write(const char* data, std::size_t n, Handler done) {
  step_write(data, n, std::move(done));
}

void TlsStream::step_write(const char* data, std::size_t n, Handler done) {
  while (n > 0) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
    if (rc > 0) {
      data += rc;
      n -= static_cast<std::size_t>(rc);
      continue;
    }
    ErrorCode ec;
    const Want w = classify(rc, ec);
    if (w == Want::failed) {
      boost::asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec); });
      return;
    }
    socket_.async_wait(w == Want::read ? boost::asio::socket_base::wait_read
                                       : boost::asio::socket_base::wait_write,
                       [this, data, n, done = std::move(done)](ErrorCode e) mutable {
                         if (e) return done(e);
                         step_write(data, n, std::move(done));
                       });
    return;
  }
  boost::asio::post(socket_.get_executor(), [done = std::move(done)] { done(ErrorCode()); });
}

void TlsStream::close() noexcept {
  if (SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // best effort; the socket is non-blocking
    ERR_clear_error();
  }
  ErrorCode ignored;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

// ---- Development certificates ----------------------------------------------

void write_self_signed_certificate(const std::string& cert_file, const std::string& key_file,
                                   const std::string& common_name) {
  using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("cannot generate an EC key: " + openssl_reason());
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + common_name + ",IP:127.0.0.1";
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("cannot sign the certificate: " + openssl_reason());
  }
  write_file(key_file, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  write_file(cert_file, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
}

}  // namespace starhold::net
