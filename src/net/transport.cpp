#include "net/transport.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace starhold::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

const char* transport_name(TransportKind k) noexcept {
  switch (k) {
    case TransportKind::tcp:
      return "tcp";
    case TransportKind::tls:
      return "tls";
    case TransportKind::websocket:
      return "ws";
    case TransportKind::websocket_tls:
      return "wss";
  }
  return "?";
}

namespace {

std::string address_of(const tcp::socket& s) {
  ErrorCode ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string();
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(tcp::socket s) : socket_(std::move(s)) {
    remote_ = address_of(socket_);
    ErrorCode ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
  }
  void handshake(Done done) override {
    asio::post(socket_.get_executor(), [done = std::move(done)] { done(ErrorCode()); });
  }
  void wait_readable(Done done) override {
    socket_.async_wait(tcp::socket::wait_read, std::move(done));
  }
  void read_some(char* buf, std::size_t n, ReadDone done) override {
    socket_.async_read_some(asio::buffer(buf, n), std::move(done));
  }
  void write(const std::vector<asio::const_buffer>& buffers, Done done) override {
    asio::async_write(socket_, buffers,
                      [done = std::move(done)](ErrorCode ec, std::size_t) { done(ec); });
  }
  void close() noexcept override {
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  TransportKind kind() const noexcept override { return TransportKind::tcp; }

 private:
  tcp::socket socket_;
};

class TlsTransport final : public Transport {
 public:
  TlsTransport(tcp::socket s, const TlsContext& ctx, bool server, const std::string& host)
      : stream_(std::move(s), ctx, server, host) {
    remote_ = address_of(stream_.socket());
    ErrorCode ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
  }
  void handshake(Done done) override { stream_.async_handshake(std::move(done)); }
  void wait_readable(Done done) override { stream_.async_wait_readable(std::move(done)); }
  void read_some(char* buf, std::size_t n, ReadDone done) override {
    stream_.async_read_some(buf, n, std::move(done));
  }
  void write(const std::vector<asio::const_buffer>& buffers, Done done) override {
    // One SSL_write (so, few TLS records) per write: gather into one block.
    if (buffers.size() == 1) {
      stream_.async_write(static_cast<const char*>(buffers[0].data()), buffers[0].size(),
                          std::move(done));
      return;
    }
    staging_.clear();
    for (const auto& b : buffers)
      staging_.append(static_cast<const char*>(b.data()), b.size());
    stream_.async_write(staging_.data(), staging_.size(),
                        [this, done = std::move(done)](ErrorCode ec) {
                          std::string().swap(staging_);  // idle connections keep no buffer
                          done(ec);
                        });
  }
  void close() noexcept override { stream_.close(); }
  TransportKind kind() const noexcept override { return TransportKind::tls; }

 private:
  TlsStream stream_;
  std::string staging_;
};

template <class Next>
class WebSocketTransport final : public Transport {
 public:
  template <class... Args>
  WebSocketTransport(bool server, std::string host, std::string path, TransportKind kind,
                     Args&&... next)
      : ws_(std::forward<Args>(next)...),
        server_(server),
        host_(std::move(host)),
        path_(std::move(path)),
        kind_(kind) {
    remote_ = address_of(beast::get_lowest_layer(ws_).socket());
    ErrorCode ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    ws_.binary(true);
    ws_.auto_fragment(false);
  }

  void handshake(Done done) override {
    if constexpr (std::is_same_v<Next, beast::tcp_stream>) {
      websocket_handshake(std::move(done));
    } else {
      ws_.next_layer().async_handshake(
          server_ ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
          [this, done = std::move(done)](ErrorCode ec) mutable {
            if (ec) return done(ec);
            websocket_handshake(std::move(done));
          });
    }
  }
  // Beast keeps its own buffers; a read is simply issued at once.
  void wait_readable(Done done) override {
    asio::post(ws_.get_executor(), [done = std::move(done)] { done(ErrorCode()); });
  }
  void read_some(char* buf, std::size_t n, ReadDone done) override {
    ws_.async_read_some(asio::buffer(buf, n), std::move(done));
  }
  void write(const std::vector<asio::const_buffer>& buffers, Done done) override {
    ws_.async_write(buffers, [done = std::move(done)](ErrorCode ec, std::size_t) { done(ec); });
  }
  void close() noexcept override {
    ErrorCode ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }
  TransportKind kind() const noexcept override { return kind_; }

  void set_server_name(const std::string& host, bool verify) {
    if constexpr (!std::is_same_v<Next, beast::tcp_stream>) {
      SSL* ssl = ws_.next_layer().native_handle();
      if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
      if (verify) SSL_set1_host(ssl, host.c_str());
    }
  }

 private:
  void websocket_handshake(Done done) {
    if (server_) {
      ws_.async_accept([done = std::move(done)](ErrorCode ec) { done(ec); });
    } else {
      ws_.async_handshake(host_, path_, [done = std::move(done)](ErrorCode ec) { done(ec); });
    }
  }

  websocket::stream<Next> ws_;
  bool server_;
  std::string host_, path_;
  TransportKind kind_;
};

using PlainWs = WebSocketTransport<beast::tcp_stream>;
using SecureWs = WebSocketTransport<asio::ssl::stream<beast::tcp_stream>>;

// Asio's ssl::context over Starhold's SSL_CTX (WebSocket over TLS uses Beast's
// stream, which needs an asio::ssl::context).
std::shared_ptr<asio::ssl::context> asio_context(const TlsContext& tls) {
  SSL_CTX_up_ref(tls.native());
  return std::make_shared<asio::ssl::context>(tls.native());
}

std::unique_ptr<Transport> make(TransportKind kind, tcp::socket socket,
                                const std::shared_ptr<TlsContext>& tls, bool server,
                                const std::string& host, const std::string& path) {
  if ((kind == TransportKind::tls || kind == TransportKind::websocket_tls) && !tls) {
    throw std::invalid_argument("a TLS transport needs a TLS context");
  }
  switch (kind) {
    case TransportKind::tcp:
      return std::make_unique<TcpTransport>(std::move(socket));
    case TransportKind::tls:
      return std::make_unique<TlsTransport>(std::move(socket), *tls, server, host);
    case TransportKind::websocket:
      return std::make_unique<PlainWs>(server, host, path, kind,
                                       beast::tcp_stream(std::move(socket)));
    case TransportKind::websocket_tls: {
      // Beast's TLS stream needs an asio::ssl::context; one over our SSL_CTX is
      // only a reference count, and SSL_new keeps its own.
      auto ctx = asio_context(*tls);
      auto t = std::make_unique<SecureWs>(server, host, path, kind,
                                          beast::tcp_stream(std::move(socket)), *ctx);
      if (!server && !host.empty()) t->set_server_name(host, tls->verifies());
      return t;
    }
  }
  throw std::invalid_argument("unknown transport");
}

}  // namespace

std::unique_ptr<Transport> server_transport(TransportKind kind, tcp::socket socket,
                                            const std::shared_ptr<TlsContext>& tls) {
  return make(kind, std::move(socket), tls, true, {}, "/");
}

std::unique_ptr<Transport> client_transport(TransportKind kind, tcp::socket socket,
                                            const std::shared_ptr<TlsContext>& tls,
                                            const std::string& host, const std::string& path) {
  return make(kind, std::move(socket), tls, false, host, path);
}

}  // namespace starhold::net
