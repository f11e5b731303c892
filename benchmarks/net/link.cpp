#include "net/link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>

namespace netbench {

template <class Stream>
void Link<Stream>::start() {
  auto self = this->shared_from_this();
  tcp::endpoint ep(asio::ip::address_v4::loopback(), options_.port);
  boost::beast::get_lowest_layer(stream_).async_connect(ep, [self](boost::system::error_code ec) {
    if (ec) return self->close_because("connect: " + ec.message());
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(self->stream_).set_option(tcp::no_delay(true), ignored);
    if constexpr (kWs) {
      const std::string host = "127.0.0.1:" + std::to_string(self->options_.port);
      self->stream_.async_handshake(host, "/", [self](boost::system::error_code hec) {
        if (hec) return self->close_because("WebSocket: " + hec.message());
        self->greet();
      });
    } else if constexpr (kTls) {
      self->stream_.async_handshake(asio::ssl::stream_base::client,
                                    [self](boost::system::error_code hec) {
                                      if (hec) return self->close_because("TLS: " + hec.message());
                                      self->greet();
                                    });
    } else {
      self->greet();
    }
  });
}

template <class Stream>
void Link<Stream>::send_bytes(std::string_view bytes) {
  if (closed_) return;
  pending_.append(bytes);
  if (!writing_) write();
}

template <class Stream>
void Link<Stream>::send(std::uint8_t opcode, std::string_view body) {
  if (closed_) return;
  append_frame(pending_, opcode, body);
  if (!writing_) write();
}

template <class Stream>
void Link<Stream>::acknowledge() {
  send(op::heartbeat, u64_body(received_));
  acknowledged_ = received_;
}

template <class Stream>
void Link<Stream>::close_because(std::string why) {
  if (closed_) return;
  why_ = std::move(why);
  close();
}

template <class Stream>
void Link<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  boost::beast::get_lowest_layer(stream_).close(ignored);
  if (!logged_in_ && on_login) std::exchange(on_login, nullptr)(false);
}

template <class Stream>
void Link<Stream>::greet() {
  std::string hello;
  put_be(hello, 0x53484C44, 4);
  put_be(hello, 2, 2);
  send(op::hello, hello);
  read();
}

template <class Stream>
void Link<Stream>::read() {
  auto self = this->shared_from_this();
  stream_.async_read_some(reader_.space(), [self](boost::system::error_code ec, std::size_t n) {
    if (self->closed_) return;
    if (ec) return self->close_because("read: " + ec.message());
    self->reader_.commit(n);
    const bool ok = self->reader_.each(
        [&](std::uint8_t opcode, std::string_view body) { self->handle(opcode, body); });
    if (!ok) return self->close_because("a frame longer than the protocol allows");
    if (!self->closed_) self->read();
  });
}

template <class Stream>
void Link<Stream>::handle(std::uint8_t opcode, std::string_view body) {
  if (closed_) return;
  switch (opcode) {
    case op::welcome:
      if (!options_.resume_token.empty()) {
        send(op::resume, str16(options_.resume_token));
      } else {
        send(op::login, str16(options_.name) + str16(options_.password));
      }
      return;
    case op::login_ok: {
      // u64 session, blob reconnect token, u32 grace, u32 budget, blob resume token, u32 valid
      const std::size_t at = body.size() >= 10 ? 10 + get_be(body.data() + 8, 2) + 8 : body.size();
      if (body.size() >= at + 2) {
        resume_token_ = std::string(body.substr(at + 2, get_be(body.data() + at, 2)));
      }
      logged_in_ = true;
      if (on_login) std::exchange(on_login, nullptr)(true);
      return;
    }
    case op::login_failed:
      return close_because("login failed: " + std::string(body.size() > 4 ? body.substr(4) : body));
    case op::disconnect:
      disconnect_reason_ =
          body.size() >= 2 ? static_cast<std::uint16_t>(get_be(body.data(), 2)) : std::uint16_t{0};
      return close_because("DISCONNECT " + std::to_string(disconnect_reason_) + ": " +
                           std::string(body.size() > 4 ? body.substr(4) : body));
    case op::heartbeat:
      acknowledge();  // the server heard nothing from us a while
      return;
    case op::session_message:
    case op::channel_joined:
    case op::channel_left:
    case op::channel_message:
      ++received_;
      if (options_.ack_every != 0 && received_ % options_.ack_every == 0) {
        acknowledge();
      }
      break;
    default:
      break;
  }
  if (logged_in_ && on_frame) on_frame(opcode, body);
}

template <class Stream>
void Link<Stream>::write() {
  writing_ = true;
  writing_buf_.swap(pending_);
  pending_.clear();
  auto self = this->shared_from_this();
  auto done = [self](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    self->writing_buf_.clear();
    if (self->closed_) return;
    if (ec) return self->close_because("write: " + ec.message());
    if (!self->pending_.empty()) self->write();
  };
  if constexpr (kWs) {
    stream_.async_write(asio::buffer(writing_buf_), std::move(done));  // one binary message
  } else {
    asio::async_write(stream_, asio::buffer(writing_buf_), std::move(done));
  }
}

template class Link<tcp::socket>;
template class Link<TlsSocket>;
template class Link<WsSocket>;

}  // namespace netbench
