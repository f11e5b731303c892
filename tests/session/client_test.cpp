// The C++ client library against a real server: every transport, channels,
// and automatic reconnect.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>

#include <fmt/format.h>

#include "session/manual_clock.hpp"
#include "starhold/client.hpp"
#include "support/test_world.hpp"

namespace {

using starhold::client::Client;
using starhold::client::ClientOptions;
using starhold::client::Transport;

// A Client whose callbacks feed a queue the test thread waits on.
class Probe {
 public:
  Probe(std::uint16_t port, Transport t, const std::string& ca,
        const std::function<void(ClientOptions&)>& tweak = {}) {
    ClientOptions o;
    o.port = port;
    o.transport = t;
    o.ca_file = ca;
    o.reconnect_delay = std::chrono::milliseconds(50);
    if (tweak) tweak(o);
    client = std::make_unique<Client>(o);
    client->on_logged_in = [this](std::uint64_t) { push("logged in"); };
    client->on_login_failed = [this](std::uint16_t r, const std::string& m) {
      push("login failed " + std::to_string(r) + " " + m);
    };
    client->on_message = [this](std::string_view m) { push(std::string(m)); };
    client->on_channel_joined = [this](std::uint64_t c, const std::string& name) {
      channel = c;
      push("joined " + name);
    };
    client->on_channel_message = [this](std::uint64_t, std::string_view m) {
      push("channel " + std::string(m));
    };
    client->on_disconnected = [this](const starhold::client::DisconnectInfo& i) {
      push(std::string(i.reconnecting ? "lost, reconnecting " : "disconnected ") +
           std::to_string(i.reason));
    };
    client->on_reconnected = [this] { push("reconnected"); };
  }
  // The client's thread calls push until the client is gone.
  ~Probe() { client.reset(); }
  // The next event, or "timeout".
  std::string next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return "timeout";
    std::string e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  std::unique_ptr<Client> client;
  std::atomic<std::uint64_t> channel{0};

 private:
  void push(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
};

}  // namespace

TEST_CASE("the client library logs in and exchanges messages over every transport") {
  test::TempDir dir;
  test::LogCapture log;
  const bool ws_tls = GENERATE(true, false);
  test::NetServer net(dir.path(), log,
                      [&](starhold::ServerOptions& o) { o.websocket_tls = ws_tls; });
  std::vector<std::pair<Transport, std::uint16_t>> ways = {
      {Transport::tcp, net.tcp},
      {Transport::tls, net.tls},
      {ws_tls ? Transport::websocket_tls : Transport::websocket, net.ws}};
  int n = 0;
  for (auto [transport, port] : ways) {
    INFO("transport " << static_cast<int>(transport));
    Probe p(port, transport, net.ca);
    const std::string name = "user" + std::to_string(n++);
    p.client->login(name, "pw");
    CHECK(p.next() == "logged in");
    CHECK(p.next() == "welcome " + name);
    p.client->send("echo:over the wire");
    CHECK(p.next() == "over the wire");
    p.client->logout();
    CHECK(p.next() == "disconnected 15");
  }
}

TEST_CASE("a client that does not trust the server's certificate does not log in") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  Probe p(net.tls, Transport::tls, "");  // system trust store: the test certificate is not in it
  p.client->login("wary", "pw");
  const std::string e = p.next();
  CHECK(e.rfind("disconnected", 0) == 0);
  CHECK(net.server->metrics().logins_succeeded == 0);
}

TEST_CASE("the client library sends on channels and resumes a dropped connection") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  Probe a(net.tls, Transport::tls, net.ca), b(net.tls, Transport::tls, net.ca);
  for (auto* p : {&a, &b}) {
    p->client->login(p == &a ? "a" : "b", "pw");
    CHECK(p->next() == "logged in");
    p->next();  // welcome
    p->client->send("join:square");
    CHECK(p->next() == "joined square");
  }
  a.client->send_channel(a.channel, "hello square");
  CHECK(a.next() == "channel hello square");
  CHECK(b.next() == "channel hello square");

  // b loses its connection; a keeps talking; b resumes and misses nothing.
  b.client->drop_connection();
  CHECK(b.next() == "lost, reconnecting 0");
  for (int i = 0; i < 3; ++i)
    a.client->send_channel(a.channel, fmt::format("m{}", i));
  b.client->send("echo:sent while away");
  CHECK(b.next() == "reconnected");
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i)
    got.push_back(b.next());
  std::vector<std::string> channel_msgs;
  for (auto& g : got) {
    if (g.rfind("channel ", 0) == 0) channel_msgs.push_back(g);
  }
  CHECK(channel_msgs == std::vector<std::string>{"channel m0", "channel m1", "channel m2"});
  CHECK(std::find(got.begin(), got.end(), "sent while away") != got.end());
  CHECK(net.events().empty());
}

TEST_CASE("the client library follows its rotated reconnect token through repeated drops") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  Probe p(net.tcp, Transport::tcp, net.ca);
  p.client->login("wanderer", "pw");
  CHECK(p.next() == "logged in");
  CHECK(p.next() == "welcome wanderer");
  for (int i = 0; i < 3; ++i) {
    p.client->drop_connection();
    CHECK(p.next() == "lost, reconnecting 0");
    CHECK(p.next() == "reconnected");
    p.client->send("echo:after drop " + std::to_string(i));
    CHECK(p.next() == "after drop " + std::to_string(i));
  }
  CHECK(net.server->metrics().reconnects == 3);
  CHECK(net.events().empty());
}

TEST_CASE("the client library waits out the reconnect limit and then resumes") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = test::ManualClock::make();
  test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
    o.reconnect_burst = 1;
    o.reconnect_rate = 1;
    o.session_clock = test::ManualClock::function(clock);
  });
  Probe p(net.tcp, Transport::tcp, net.ca);
  p.client->login("patient", "pw");
  CHECK(p.next() == "logged in");
  CHECK(p.next() == "welcome patient");
  p.client->drop_connection();  // the one attempt of the burst
  CHECK(p.next() == "lost, reconnecting 0");
  CHECK(p.next() == "reconnected");
  p.client->drop_connection();
  CHECK(p.next() == "lost, reconnecting 0");
  REQUIRE(test::wait_until([&] { return log.count({"too_many_attempts"}) >= 1; }));
  clock->advance(std::chrono::seconds(1));
  CHECK(p.next() == "reconnected");
  p.client->send("echo:resumed at last");
  CHECK(p.next() == "resumed at last");
}

TEST_CASE("the client library keeps at most resend_buffer_bytes of unacknowledged sends") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  // Each "echo:" message below is a frame of 510 bytes: three fit in 2,000.
  Probe p(net.tcp, Transport::tcp, net.ca, [](ClientOptions& o) { o.resend_buffer_bytes = 2000; });
  p.client->login("bounded", "pw");
  CHECK(p.next() == "logged in");
  CHECK(p.next() == "welcome bounded");
  p.client->drop_connection();
  for (int i = 0; i < 10; ++i)  // while away: kept for resending, within the bound
    p.client->send("echo:" + std::to_string(i) + std::string(499, '.'));
  CHECK(p.next() == "lost, reconnecting 0");
  CHECK(p.next() == "lost, reconnecting 0");  // 7 messages lost, reported
  CHECK(p.next() == "reconnected");
  for (int i = 7; i < 10; ++i)
    CHECK(p.next() == std::to_string(i) + std::string(499, '.'));
}
