#include "net/raw_echo_server.hpp"

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "net/frames.hpp"

namespace netbench {

using tcp = asio::ip::tcp;

class RawEchoServer::Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(tcp::socket s, std::uint64_t id) : socket_(std::move(s)), id_(id), reader_(16384) {}
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(reader_.space(), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      self->reader_.commit(n);
      if (!self->reader_.each([&](std::uint8_t o, std::string_view b) { self->handle(o, b); }))
        return;
      self->read();
    });
  }

 private:
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
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [self](boost::system::error_code ec, auto) {
      self->out_.clear();
      if (ec || self->pending_.empty()) {
        self->writing_ = false;
        return;
      }
      self->write();
    });
  }
  tcp::socket socket_;
  std::uint64_t id_;
  FrameReader reader_;
  std::string pending_, out_;
  bool writing_ = false;
};

RawEchoServer::RawEchoServer()
    : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  accept();
  thread_ = std::thread([this] { io_.run(); });
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
    std::make_shared<Conn>(std::move(s), ++accepted_)->read();
    accept();
  });
}

}  // namespace netbench
