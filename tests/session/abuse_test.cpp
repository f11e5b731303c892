// Bad and abusive clients: each gets its reason on the wire (where the
// connection allows), a log line, a metric and a disconnect, while a
// well-behaved client connected at the same time keeps getting answers.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <fstream>
#include <thread>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::session_message;

// A well-behaved client that must keep being answered.
class GoodClient {
 public:
  explicit GoodClient(std::uint16_t port) : c_(port) {
    c_.connect_session("good", "pw");
    c_.read_skipping_heartbeats();  // welcome
  }
  bool answers() {
    c_.send(session_message, "echo:ping" + std::to_string(++n_));
    auto f = c_.read_skipping_heartbeats(std::chrono::seconds(30));
    return f && f->body == "ping" + std::to_string(n_);
  }

 private:
  test::RawClient c_;
  int n_ = 0;
};

const char* kReasonNames[] = {"",
                              "protocol_version",
                              "malformed_frame",
                              "frame_too_large",
                              "unknown_opcode",
                              "not_logged_in",
                              "bad_credentials",
                              "too_many_attempts",
                              "flood",
                              "slow_reader",
                              "heartbeat_timeout",
                              "server_full",
                              "",
                              "",
                              "",
                              "",
                              "",
                              "",
                              "",
                              "",
                              "handshake_timeout"};

// The most the kernel can hold of what the server sends one loopback client
// whose receive buffer is rcvbuf: the sender's largest send buffer
// (tcp_wmem's maximum) and the receive buffer (which the kernel doubles).
std::size_t kernel_buffering_bound(int rcvbuf) {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t min = 0, initial = 0, max = 0;
  in >> min >> initial >> max;
  REQUIRE(max > 0);
  return max + 2 * static_cast<std::size_t>(rcvbuf);
}

void check_reported(test::NetServer& net, test::LogCapture& log, int reason) {
  CHECK(test::wait_until(
      [&] { return net.server->metrics().disconnects[static_cast<std::size_t>(reason)] >= 1; }));
  CHECK(log.count({"disconnecting", kReasonNames[reason]}) >= 1);
}

}  // namespace

TEST_CASE("a frame over the maximum size is refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  bad.connect_session("big", "pw");
  bad.send_raw(test::be32(70000) + std::string(1, static_cast<char>(session_message)) +
               std::string(1000, 'x'));
  CHECK(bad.wait_disconnect_reason() == 3);
  CHECK(bad.wait_closed());
  check_reported(net, log, 3);
  CHECK(good.answers());
}

TEST_CASE("bytes that are not a valid frame are refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  GoodClient good(net.tcp);
  SECTION("a frame of length zero") {
    test::RawClient bad(net.tcp);
    bad.hello();
    bad.send_raw(test::be32(0));
    CHECK(bad.wait_disconnect_reason() == 2);
  }
  SECTION("a body shorter than its fields") {
    test::RawClient bad(net.tcp);
    bad.hello();
    bad.send(test::op::login, test::be16(40) + "short");
    CHECK(bad.wait_disconnect_reason() == 2);
  }
  check_reported(net, log, 2);
  CHECK(good.answers());
}

TEST_CASE("an unknown opcode is refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  bad.connect_session("odd", "pw");
  bad.send(0x7f, "?");
  CHECK(bad.wait_disconnect_reason() == 4);
  check_reported(net, log, 4);
  CHECK(good.answers());
}

TEST_CASE("a message before login is refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  bad.hello();
  bad.send(session_message, "echo:sneaky");
  CHECK(bad.wait_disconnect_reason() == 5);
  check_reported(net, log, 5);
  CHECK(good.answers());
}

TEST_CASE("repeated wrong passwords lock the address out") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) { o.max_failed_logins = 3; });
  {
    test::RawClient setup(net.tcp);
    setup.connect_session("hal", "right");
  }
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  bad.hello();
  CHECK(test::get16(bad.login("hal", "wrong1").body, 0) == 6);
  CHECK(test::get16(bad.login("hal", "wrong2").body, 0) == 6);
  auto third = bad.login("hal", "wrong3");
  CHECK(third.op == test::op::login_failed);
  CHECK(test::get16(third.body, 0) == 7);  // too_many_attempts
  CHECK(bad.wait_disconnect_reason() == 7);
  // Even the right password is refused from this address for now.
  test::RawClient again(net.tcp);
  again.hello();
  again.send(test::op::login, test::str16("hal") + test::str16("right"));
  CHECK(again.wait_disconnect_reason() == 7);
  check_reported(net, log, 7);
  CHECK(net.server->metrics().logins_failed >= 3);
  CHECK(good.answers());
}

TEST_CASE("a client sending faster than the allowed rate is a flood") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) { o.max_message_rate = 50; });
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  bad.connect_session("fast", "pw");
  std::string burst;
  for (int i = 0; i < 500; ++i)
    burst += test::frame(session_message, "echo:x");
  bad.send_raw(burst);
  CHECK(bad.wait_disconnect_reason() == 8);
  check_reported(net, log, 8);
  CHECK(good.answers());
}

TEST_CASE("a client that outruns its tasks is held back (bounded queue) and loses nothing") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.inbound_queue_messages = 8; });
  GoodClient good(net.tcp);
  test::RawClient c(net.tcp);
  c.connect_session("eager", "pw");
  c.read_skipping_heartbeats();
  std::string burst;
  for (int i = 1; i <= 2000; ++i)
    burst += test::frame(session_message, "num:" + std::to_string(i));
  std::thread sender([&] { c.send_raw(burst); });
  int n = 0;
  while (auto f = c.read_skipping_heartbeats(std::chrono::seconds(10))) {
    if (f->body != "ack:" + std::to_string(n + 1)) break;
    if (++n == 2000) break;
  }
  sender.join();
  CHECK(n == 2000);
  CHECK(good.answers());
}

TEST_CASE("a client that does not read is disconnected as a slow reader") {
  // Nothing here depends on the machine's speed: the server is made to send
  // more than the kernel can hold for the connection plus the outbound
  // budget, in tasks far inside their (raised) time limit, so the budget is
  // passed however the threads are scheduled.
  test::TempDir dir;
  test::LogCapture log;
  constexpr std::size_t kBudget = 64 << 10;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.outbound_buffer_bytes = kBudget;
    o.task_time_limit = std::chrono::seconds(30);
    // The good client is silent until the end; on a loaded machine that can
    // take longer than three default heartbeat intervals.
    o.heartbeat_interval = std::chrono::seconds(60);
  });
  GoodClient good(net.tcp);
  test::RawClient bad(net.tcp);
  int small = 4096;
  ::setsockopt(bad.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  bad.connect_session("sleepy", "pw");
  const std::size_t total = kernel_buffering_bound(small) + 2 * kBudget + (1 << 20);
  constexpr std::size_t kPerTask = 8 * 60000;  // blast:8:60000
  for (std::size_t asked = 0; asked < total; asked += kPerTask)
    bad.send(session_message, "blast:8:60000");  // never read
  check_reported(net, log, 9);
  CHECK(bad.wait_closed(std::chrono::seconds(60)));
  CHECK(good.answers());
}

TEST_CASE("an idle or half-open connection times out") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.heartbeat_interval = std::chrono::milliseconds(100);
    o.handshake_timeout = std::chrono::milliseconds(300);
  });
  SECTION("silent after login") {
    test::RawClient quiet(net.tcp);
    quiet.connect_session("quiet", "pw");
    CHECK(quiet.wait_disconnect_reason(std::chrono::seconds(5)) == 10);
    check_reported(net, log, 10);
  }
  SECTION("silent before login") {
    test::RawClient mute(net.tcp);
    CHECK(mute.wait_disconnect_reason(std::chrono::seconds(5)) == 20);
    check_reported(net, log, 20);
  }
}

TEST_CASE("connections over the configured maximum are refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) { o.max_connections = 3; });
  GoodClient good(net.tcp);
  std::vector<std::unique_ptr<test::RawClient>> more;
  for (int i = 0; i < 2; ++i)
    more.push_back(std::make_unique<test::RawClient>(net.tcp));
  test::RawClient extra(net.tcp);
  CHECK(extra.wait_disconnect_reason() == 11);
  check_reported(net, log, 11);
  CHECK(good.answers());
}
