#include "net/raw_echo_server.hpp"

#include <pthread.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket.hpp>

#include "net/frames.hpp"

namespace netbench {

using tcp = asio::ip::tcp;
using WsStream = boost::beast::websocket::stream<tcp::socket>;

// One client over Stream (tcp::socket, asio::ssl::stream<tcp::socket> or
// WsStream). Each pending operation holds the connection.
template <class Stream>
class RawEchoServer::Conn : public std::enable_shared_from_this<Conn<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, asio::ssl::stream<tcp::socket>>;
  static constexpr bool kWs = std::is_same_v<Stream, WsStream>;

  // stream_args follow the socket into Stream's constructor (the TLS context).
  template <class... StreamArgs>
  Conn(tcp::socket s, std::uint64_t id, std::size_t read_chunk, std::atomic<std::uint64_t>& logins,
       StreamArgs&... stream_args)
      : stream_(std::move(s), stream_args...), id_(id), reader_(read_chunk), logins_(logins) {
    if constexpr (kWs) {
      stream_.binary(true);
      stream_.auto_fragment(false);
    }
  }

  // The TLS handshake or WebSocket upgrade if any, then the first read.
  void start() {
    if constexpr (kWs) {
      auto self = this->shared_from_this();
      stream_.async_accept([self](boost::system::error_code ec) {
        if (!ec) self->read();
      });
    } else if constexpr (kTls) {
      auto self = this->shared_from_this();
      stream_.async_handshake(asio::ssl::stream_base::server, [self](boost::system::error_code ec) {
        if (!ec) self->read();
      });
    } else {
      read();
    }
  }

 private:
  void read() {
    auto self = this->shared_from_this();
    stream_.async_read_some(reader_.space(), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      self->reader_.commit(n);
      if (!self->reader_.each([&](std::uint8_t o, std::string_view b) { self->handle(o, b); }))
        return;
      self->read();
    });
  }
  void handle(std::uint8_t opcode, std::string_view body) {
    std::string reply;
    switch (opcode) {
      case op::hello:
        put_be(reply, 2, 2);
        put_be(reply, kMaxFrame, 4);
        put_be(reply, 60000, 4);
        return send(op::welcome, reply);
      case op::login:
        put_be(reply, id_, 8);
        put_be(reply, 0, 2);  // an empty reconnect token
        put_be(reply, 0, 4);  // no grace period
        put_be(reply, 0, 4);  // no replay
        put_be(reply, 0, 2);  // no resume token
        put_be(reply, 0, 4);
        logins_.fetch_add(1, std::memory_order_relaxed);
        return send(op::login_ok, reply);
      case op::session_message:
        return send(op::session_message, body);
      default:
        return;
    }
  }
  void send(std::uint8_t opcode, std::string_view body) {
    append_frame(pending_, opcode, body);
    if (writing_) return;
    writing_ = true;
    write();
  }
  void write() {
    out_.swap(pending_);
    pending_.clear();
    auto self = this->shared_from_this();
    auto done = [self](boost::system::error_code ec, std::size_t) {
      self->out_.clear();
      if (ec || self->pending_.empty()) {
        self->writing_ = false;
        return;
      }
      self->write();
    };
    if constexpr (kWs) {
      stream_.async_write(asio::buffer(out_), std::move(done));  // one binary message
    } else {
      asio::async_write(stream_, asio::buffer(out_), std::move(done));
    }
  }

  Stream stream_;
  std::uint64_t id_;
  FrameReader reader_;
  std::atomic<std::uint64_t>& logins_;
  std::string pending_, out_;
  bool writing_ = false;
};

RawEchoServer::RawEchoServer(std::optional<RawTlsFiles> tls, std::size_t read_chunk)
    : read_chunk_(read_chunk), acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  if (tls) {
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(tls->certificate);
    tls_->use_private_key_file(tls->private_key, asio::ssl::context::pem);
  }
  run();
}

RawEchoServer::RawEchoServer(RawWebSocket, std::size_t read_chunk)
    : websocket_(true),
      read_chunk_(read_chunk),
      acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  run();
}

void RawEchoServer::run() {
  accept();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raw-echo");
    io_.run();
  });
}

RawEchoServer::~RawEchoServer() {
  asio::post(io_, [this] { io_.stop(); });
  thread_.join();
}

void RawEchoServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (ec) return;
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    if (websocket_) {
      std::make_shared<Conn<WsStream>>(std::move(s), ++accepted_, read_chunk_, logins_)->start();
    } else if (tls_) {
      std::make_shared<Conn<asio::ssl::stream<tcp::socket>>>(std::move(s), ++accepted_, read_chunk_,
                                                             logins_, *tls_)
          ->start();
    } else {
      std::make_shared<Conn<tcp::socket>>(std::move(s), ++accepted_, read_chunk_, logins_)->start();
    }
    accept();
  });
}

}  // namespace netbench
