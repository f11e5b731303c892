// The C++ client library acknowledges what it receives even when little
// arrives: a client with light traffic does not leave the server keeping its
// messages until 64 frames have come. Seen on the wire, through a relay
// between the client and a real server.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "starhold/client.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using starhold::client::Client;
using starhold::client::ClientOptions;
using starhold::client::Transport;

// Relays one plain-TCP connection from 127.0.0.1:port() to the server and
// notes the highest count carried by a HEARTBEAT the client sent.
class AckWatch {
 public:
  explicit AckWatch(std::uint16_t server_port) : server_port_(server_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(listener_);
      throw std::runtime_error("the relay cannot listen on 127.0.0.1");
    }
    port_ = ntohs(a.sin_port);
    upstream_ = std::thread([this] { run(); });
  }
  ~AckWatch() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
    for (int fd : {client_.load(), server_.load()}) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    upstream_.join();
    if (downstream_.joinable()) downstream_.join();
    for (int fd : {listener_, client_.load(), server_.load()}) {
      if (fd >= 0) ::close(fd);
    }
  }
  std::uint16_t port() const noexcept { return port_; }

  // Whether the client acknowledged at least count counted frames before timeout.
  bool wait_acknowledged(std::uint64_t count,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acknowledged_ >= count; });
  }

 private:
  void run() {
    const int c = ::accept(listener_, nullptr, nullptr);
    if (c < 0) return;
    client_ = c;
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    server_ = s;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(server_port_);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    downstream_ = std::thread([c, s] { pump(s, c, [](std::string_view) {}); });
    pump(c, s, [this](std::string_view bytes) { note(bytes); });
  }

  // Copies from `from` to `to` until either side closes, then closes both.
  template <class Seen>
  static void pump(int from, int to, const Seen& seen) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) break;
      seen(std::string_view(buf, static_cast<std::size_t>(n)));
      if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  // Splits the client's bytes into frames (u32 length, opcode, body).
  void note(std::string_view bytes) {
    pending_.append(bytes);
    while (pending_.size() >= 4) {
      const std::size_t len = test::get32(pending_, 0);
      if (pending_.size() < 4 + len) return;
      if (len == 9 && static_cast<std::uint8_t>(pending_[4]) == test::op::heartbeat) {
        std::lock_guard lock(mu_);
        acknowledged_ = std::max(acknowledged_, test::get64(pending_, 5));
        cv_.notify_all();
      }
      pending_.erase(0, 4 + len);
    }
  }

  const std::uint16_t server_port_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> client_{-1}, server_{-1};
  std::thread upstream_, downstream_;
  std::string pending_;  // upstream thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t acknowledged_ = 0;  // guarded by mu_
};

}  // namespace

TEST_CASE("the client library acknowledges light traffic without waiting for more of it") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.heartbeat_interval = std::chrono::hours(1);  // no heartbeats for silence, either way
  });
  AckWatch relay(net.tcp);
  ClientOptions o;
  o.port = relay.port();
  o.transport = Transport::tcp;
  Client client(o);
  std::atomic<int> received{0};
  client.on_message = [&](std::string_view) { ++received; };
  client.login("quiet", "pw");
  // One counted frame (the welcome): far below 64 frames and a quarter of
  // the replay budget, the other reasons to acknowledge.
  REQUIRE(test::wait_until([&] { return received.load() == 1; }));
  CHECK(relay.wait_acknowledged(1));
  // And again for the next one.
  client.send("echo:one more");
  REQUIRE(test::wait_until([&] { return received.load() == 2; }));
  CHECK(relay.wait_acknowledged(2));
}
