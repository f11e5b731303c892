// TLS on OpenSSL, driven by Asio readiness waits.
//
// TlsStream runs SSL_read/SSL_write directly on the non-blocking socket and
// lets OpenSSL keep its own buffers, released while a connection is idle
// (SSL_MODE_RELEASE_BUFFERS). Asio's ssl::stream keeps two 17 KiB buffers per
// connection for its whole life, which alone would exceed the memory budget
// of an idle session.
//
// A TlsStream belongs to one io_context thread: all its calls and handlers
// run there. At most one read and one write may be outstanding.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace starhold::net {

using ErrorCode = boost::system::error_code;

// An SSL_CTX with Starhold's settings and TLS policy, on both sides: TLS 1.2
// or newer; ECDHE with AES-GCM or ChaCha20-Poly1305 in TLS 1.2 (AEAD only),
// the three standard TLS 1.3 suites; renegotiation and compression off.
// Shared by every connection of a listener; each SSL holds a reference, so
// a replaced context lives on until its last connection ends.
class TlsContext {
 public:
  // Server side: certificate chain and private key, PEM files. Throws
  // TlsError naming the file and OpenSSL's reason.
  static std::shared_ptr<TlsContext> server(const std::string& cert_file,
                                            const std::string& key_file);
  // Client side: verifies the server against ca_file (PEM) when given,
  // against the system's store when ca_file is empty and verify is true, and
  // not at all when verify is false.
  static std::shared_ptr<TlsContext> client(const std::string& ca_file, bool verify);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  bool verifies() const noexcept { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

// The reason of OpenSSL's oldest queued error (which it then clears), or a
// note that OpenSSL gave none.
std::string openssl_reason();

// True for "127.0.0.1" or "::1", false for a host name (SNI is for names only).
bool is_ip_literal(const std::string& host);

// The error category for failures reported by OpenSSL.
const boost::system::error_category& tls_category();

class TlsStream {
 public:
  using ReadHandler = std::function<void(ErrorCode, std::size_t)>;
  using Handler = std::function<void(ErrorCode)>;

  // server: accept a handshake; otherwise connect, checking host's certificate
  // when the context verifies.
  TlsStream(boost::asio::ip::tcp::socket socket, const TlsContext& ctx, bool server,
            const std::string& host = {});
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  void async_handshake(Handler done);
  // Completes when a read would make progress: OpenSSL holds unread data or
  // the socket is readable.
  void async_wait_readable(Handler done);
  // Reads at least one byte; eof when the peer closed.
  void async_read_some(char* buf, std::size_t n, ReadHandler done);
  // Writes all n bytes; data must stay valid until done runs.
  void async_write(const char* data, std::size_t n, Handler done);
  // Sends close_notify if it can without blocking, then closes the socket.
  void close() noexcept;

  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

 private:
  enum class Want { done, read, write, failed };
  Want classify(int rc, ErrorCode& ec);
  void step_handshake(Handler done);
  void step_read(char* buf, std::size_t n, ReadHandler done);
  void step_write(const char* data, std::size_t n, Handler done);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  bool server_;
};

// Writes a self-signed certificate and its EC P-256 key (PEM) valid for
// "localhost" and 127.0.0.1, for development and tests. Each file is written
// to a new file beside it (the key's created with mode 0600, the
// certificate's 0644, less the umask) and renamed over the old one. Throws
// TlsError.
void write_self_signed_certificate(const std::string& cert_file, const std::string& key_file,
                                   const std::string& common_name = "localhost");

}  // namespace starhold::net
