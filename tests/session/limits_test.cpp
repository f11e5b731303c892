// Every text and payload a game or a client can hand to an encoder, at and
// past its limit: cut by the documented rule, or refused with a typed error
// in the caller's own code, never an exception on a network thread.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "starhold/client.hpp"
#include "support/raw_client.hpp"
#include "support/test_support.hpp"

namespace {

using test::op::session_message;

// Obeys "send:N" (a message of N bytes), "say:N" (the same on a channel) and
// "join:N" (a channel with a name of N bytes); a UsageError is answered
// with "usage error".
struct Talker final : starhold::Managed<Talker, starhold::SessionListener> {
  static constexpr std::string_view type_name = "limits_test.Talker";
  template <class F>
  void fields(F&) {}
  void received(starhold::Transaction& tx, starhold::Session s, std::string_view m) override {
    const std::string command(m.substr(0, m.find(':')));
    const std::size_t n = std::stoul(std::string(m.substr(m.find(':') + 1)));
    try {
      if (command == "send") s.send(tx, std::string(n, 's'));
      if (command == "say") {
        auto ch = starhold::Channel::find(tx, "room");
        if (!ch) ch = starhold::Channel::create(tx, "room");
        ch.join(tx, s);
        ch.send(tx, std::string(n, 'c'));
      }
      if (command == "join") starhold::Channel::create(tx, std::string(n, 'n')).join(tx, s);
    } catch (const starhold::UsageError&) {
      s.send(tx, "usage error");
    }
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// Refuses and redirects with texts of every length the test asks for.
struct LimitWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session s) override {
    const std::string name = s.name(tx);
    if (name == "long") return starhold::LoginResult::refuse(std::string(70000, 'r'));
    // 999 bytes, then a 2-byte character that would straddle the cut.
    if (name == "accents") return starhold::LoginResult::refuse(std::string(999, 'a') + "\xc3\xa9");
    if (name == "far") return starhold::LoginResult::redirect(std::string(70000, 'h'), 7777);
    if (name == "edge") return starhold::LoginResult::redirect(std::string(254, 'h'), 7777);
    return starhold::LoginResult::accept(tx.create<Talker>());
  }
};

// Accepts every name but "wordy", which it rejects at great length.
struct WordyAuthenticator final : starhold::Authenticator {
  void authenticate(const starhold::Credentials& c,
                    std::function<void(starhold::AuthResult)> done) override {
    if (c.name == "wordy") return done(starhold::AuthResult::reject(std::string(70000, 'w')));
    done(starhold::AuthResult::accept(c.name));
  }
};

struct LimitServer {
  LimitServer(const std::string& dir, test::LogCapture& log) {
    auto o = test::options_for(dir, log, 2);
    o.tcp_port = 0;
    o.max_message_bytes = 4096;
    o.max_message_rate = 0;
    server = std::make_unique<starhold::Server>(o);
    server->set_app_listener(std::make_shared<LimitWorld>());
    server->set_authenticator(std::make_shared<WordyAuthenticator>());
    server->start();
    port = server->port(starhold::Server::Listener::tcp);
  }
  // A fresh client still gets answers.
  bool answers() {
    test::RawClient c(port);
    c.connect_session("fine", "pw");
    c.send(session_message, "send:3");
    auto f = c.read_skipping_heartbeats();
    return f && f->body == "sss";
  }
  std::unique_ptr<starhold::Server> server;
  std::uint16_t port = 0;
};

// The reason and message of a LOGIN_FAILED.
std::pair<int, std::string> refusal(const test::Frame& f) {
  REQUIRE(f.op == test::op::login_failed);
  return {test::get16(f.body, 0), f.body.substr(4, test::get16(f.body, 2))};
}

}  // namespace

TEST_CASE("a refusal of any length reaches the client cut to 1000 bytes") {
  test::TempDir dir;
  test::LogCapture log;
  LimitServer net(dir.path(), log);
  test::RawClient c(net.port);
  c.hello();
  CHECK(refusal(c.login("long", "pw")) == std::make_pair(17, std::string(1000, 'r')));
  CHECK(refusal(c.login("wordy", "pw")) == std::make_pair(6, std::string(1000, 'w')));
  // Never half a character: the cut moves back to the character's start.
  CHECK(refusal(c.login("accents", "pw")) == std::make_pair(17, std::string(999, 'a')));
  CHECK(net.answers());
}

TEST_CASE("a redirect host over 253 bytes is refused in the game's task") {
  test::TempDir dir;
  test::LogCapture log;
  LimitServer net(dir.path(), log);
  for (const char* name : {"far", "edge"}) {
    test::RawClient c(net.port);
    c.hello();
    CHECK(refusal(c.login(name, "pw")).first == 21);  // internal_error
  }
  CHECK(log.count({"redirect", "1 to 253 bytes"}) >= 2);
  CHECK(net.answers());
}

TEST_CASE("messages and channel names past their limits are refused with UsageError") {
  test::TempDir dir;
  test::LogCapture log;
  LimitServer net(dir.path(), log);  // frames of at most 4,096 bytes
  test::RawClient c(net.port);
  c.connect_session("talker", "pw");
  auto reply = [&](const std::string& command) {
    c.send(session_message, command);
    auto f = c.read_skipping_heartbeats();
    REQUIRE(f);
    return *f;
  };
  // SESSION_MESSAGE: opcode and body within 4,096 bytes.
  CHECK(reply("send:4095").body == std::string(4095, 's'));
  CHECK(reply("send:4096").body == "usage error");
  // CHANNEL_MESSAGE: opcode, channel id and body.
  auto joined = reply("say:4087");
  CHECK(joined.op == test::op::channel_joined);
  CHECK(c.read_skipping_heartbeats()->body.substr(8) == std::string(4087, 'c'));
  CHECK(reply("say:4088").body == "usage error");
  // CHANNEL_JOINED carries the name: at most 255 bytes.
  auto named = reply("join:255");
  REQUIRE(named.op == test::op::channel_joined);
  CHECK(named.body.substr(10) == std::string(255, 'n'));
  CHECK(reply("join:256").body == "usage error");
  CHECK(reply("join:70000").body == "usage error");
  CHECK(net.answers());
}

TEST_CASE("options the protocol cannot carry are refused when the server is built") {
  test::TempDir dir;
  test::LogCapture log;
  auto o = test::options_for(dir.path(), log, 1);
  SECTION("a heartbeat interval past 2^32 - 1 ms") {
    o.heartbeat_interval = std::chrono::milliseconds(std::int64_t{1} << 32);
  }
  SECTION("a grace period past 2^32 - 1 ms") {
    o.reconnect_grace = std::chrono::milliseconds(std::int64_t{1} << 32);
  }
  SECTION("a replay budget past 2^32 - 1 bytes") {
    o.replay_buffer_bytes = std::size_t{1} << 32;
  }
  SECTION("frames shorter than 1,024 bytes") {
    o.max_message_bytes = 1023;
  }
  CHECK_THROWS_AS(starhold::Server(o), starhold::UsageError);
}

TEST_CASE("the client library refuses what it cannot send in the caller's thread") {
  test::TempDir dir;
  test::LogCapture log;
  LimitServer net(dir.path(), log);
  starhold::client::ClientOptions o;
  o.port = net.port;
  o.transport = starhold::client::Transport::tcp;
  starhold::client::Client client(o);
  CHECK_THROWS_AS(client.login(std::string(70000, 'n'), "pw"), std::length_error);
  CHECK_THROWS_AS(client.login("n", std::string(70000, 'p')), std::length_error);
  std::promise<void> in;
  client.on_logged_in = [&](std::uint64_t) { in.set_value(); };
  client.login("client", "pw");
  REQUIRE(in.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK_THROWS_AS(client.send(std::string(4096, 'x')), std::length_error);
  CHECK_THROWS_AS(client.send_channel(1, std::string(4088, 'x')), std::length_error);
  CHECK_NOTHROW(client.send(std::string(4095, 'x')));
}
