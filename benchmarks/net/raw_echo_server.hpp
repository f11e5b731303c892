// The echo workload's baseline: a server on raw Asio that speaks the same
// framing with no tasks and no store.
#pragma once

#include <cstdint>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace netbench {

// HELLO gets WELCOME, LOGIN gets LOGIN_OK, a SESSION_MESSAGE comes straight
// back. One thread, as Starhold's network runs on one. Listens on 127.0.0.1
// from construction; the destructor stops the thread.
class RawEchoServer {
 public:
  RawEchoServer();
  ~RawEchoServer();
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  class Conn;
  void accept();

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint64_t accepted_ = 0;
  std::thread thread_;
};

}  // namespace netbench
