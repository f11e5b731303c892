// What a reconnect gets back: every counted frame the client missed, within
// the replay budget the server announced; past it, or after the grace
// period, a refusal that says which.
#include <catch2/catch.hpp>

#include <algorithm>

#include "session/manual_clock.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using namespace std::chrono_literals;
using test::op::channel_joined;
using test::op::channel_message;
using test::op::session_message;

bool has(const std::vector<std::string>& events, const std::string& e) {
  return std::find(events.begin(), events.end(), e) != events.end();
}

// A session in channel "plaza" that has read everything so far (the welcome
// and the join: 2 counted frames), then lost its connection.
struct AwayMember {
  AwayMember(test::NetServer& net, test::LogCapture& log, const std::string& name) {
    test::RawClient c(net.tcp);
    c.connect_session(name, "pw");
    token = c.token();
    c.send(session_message, "join:plaza");
    while (auto f = c.read_skipping_heartbeats()) {
      if (f->op == channel_joined) break;
    }
    c.close();
    REQUIRE(test::wait_until([&] { return log.count({"'" + name + "' lost its connection"}); }));
  }
  std::string token;
  std::uint64_t received = 2;
};

// Has another client say `count` messages of `bytes` bytes on "plaza".
void talk(test::NetServer& net, int count, std::size_t bytes) {
  test::RawClient talker(net.tcp);
  talker.connect_session("talker", "pw");
  for (int i = 0; i < count; ++i)
    talker.send(session_message, "say:plaza:" + std::to_string(i) + std::string(bytes, '.'));
  talker.send(session_message, "echo:done");
  while (auto f = talker.read_skipping_heartbeats()) {
    if (f->body == "done") break;
  }
}

}  // namespace

TEST_CASE("a reconnect gets every message missed within the replay budget") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);  // the default budget
  AwayMember away(net, log, "roamer");
  talk(net, 20, 30000);  // about 600 KB while away

  test::RawClient back(net.tcp);
  auto ok = back.reconnect(away.token, away.received);
  REQUIRE(ok.op == test::op::reconnect_ok);
  for (int i = 0; i < 20; ++i) {
    auto f = back.read_skipping_heartbeats();
    REQUIRE(f);
    CHECK(f->op == channel_message);
    CHECK(f->body.substr(8) == std::to_string(i) + std::string(30000, '.'));
  }
  CHECK(net.events().empty());
}

TEST_CASE("a reconnect after the grace period is told session_expired") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = test::ManualClock::make();
  test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
    o.reconnect_grace = 5s;
    o.session_clock = test::ManualClock::function(clock);
  });
  std::string token;
  {
    test::RawClient c(net.tcp);
    c.connect_session("gone", "pw");
    token = c.token();
  }
  REQUIRE(test::wait_until([&] { return log.count({"'gone' lost its connection"}) == 1; }));
  clock->advance(5s);
  REQUIRE(test::wait_until([&] { return has(net.events(), "gone:lost"); }));
  test::RawClient late(net.tcp);
  auto f = late.reconnect(token, 0);
  REQUIRE(f.op == test::op::reconnect_failed);
  CHECK(test::get16(f.body, 0) == 19);  // session_expired
}

TEST_CASE("LOGIN_OK announces the grace period and the replay budget") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.reconnect_grace = 7s;
    o.replay_buffer_bytes = 123456;
  });
  test::RawClient c(net.tcp);
  c.connect_session("told", "pw");
  const std::string& body = c.login_ok();
  const std::size_t after_token = 10 + test::get16(body, 8);
  REQUIRE(body.size() >= after_token + 8);
  CHECK(test::get32(body, after_token) == 7000);
  CHECK(test::get32(body, after_token + 4) == 123456);
}

TEST_CASE("missed messages past the replay budget end the session at once: replay_overflow") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.reconnect_grace = std::chrono::hours(1);
    o.replay_buffer_bytes = 64 << 10;
  });
  AwayMember away(net, log, "flooded");
  talk(net, 5, 30000);  // about 150 KB while away
  // Ended without waiting for the hour of grace, and the game was told.
  REQUIRE(test::wait_until([&] { return has(net.events(), "flooded:lost"); }));
  test::RawClient back(net.tcp);
  auto f = back.reconnect(away.token, away.received);
  REQUIRE(f.op == test::op::reconnect_failed);
  CHECK(test::get16(f.body, 0) == 23);  // replay_overflow
}

TEST_CASE("a client that did not acknowledge within the budget resumes only if it has the rest") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.replay_buffer_bytes = 64 << 10; });
  const bool has_everything = GENERATE(true, false);
  std::string token;
  {
    test::RawClient c(net.tcp);
    c.connect_session("reader", "pw");
    token = c.token();
    c.send(session_message, "blast:10:30000");  // 300 KB; this client never acknowledges
    for (int i = 0; i < 11; ++i)
      REQUIRE(c.read_skipping_heartbeats());  // the welcome and the blast
  }
  REQUIRE(test::wait_until([&] { return log.count({"'reader' lost its connection"}) == 1; }));
  test::RawClient back(net.tcp);
  auto f = back.reconnect(token, has_everything ? 11 : 1);
  if (has_everything) {
    CHECK(f.op == test::op::reconnect_ok);
  } else {
    REQUIRE(f.op == test::op::reconnect_failed);
    CHECK(test::get16(f.body, 0) == 23);  // replay_overflow
    // A session that cannot be resumed ends now.
    CHECK(test::wait_until([&] { return has(net.events(), "reader:lost"); }));
  }
}

TEST_CASE("the server acknowledges every 64 messages it receives") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.heartbeat_interval = std::chrono::hours(1);  // no heartbeats for silence
  });
  test::RawClient c(net.tcp);
  c.connect_session("chatty", "pw");
  for (int i = 0; i < 64; ++i)
    c.send(session_message, "echo:x");
  std::uint64_t acknowledged = 0;
  while (acknowledged < 64) {
    auto f = c.read();
    REQUIRE(f);
    if (f->op == test::op::heartbeat) acknowledged = test::get64(f->body, 0);
  }
  CHECK(acknowledged == 64);
}

TEST_CASE("the tokens of ended sessions are remembered within a bound") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.expired_token_memory = 2; });
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    test::RawClient c(net.tcp);
    c.connect_session("leaver" + std::to_string(i), "pw");
    tokens.push_back(c.token());
    c.send(test::op::logout);
    REQUIRE(c.wait_closed());
  }
  std::vector<int> reasons;
  for (const auto& t : tokens) {
    test::RawClient late(net.tcp);
    auto f = late.reconnect(t, 0);
    REQUIRE(f.op == test::op::reconnect_failed);
    reasons.push_back(test::get16(f.body, 0));
  }
  // The oldest was forgotten: invalid_token; the two newest: session_expired.
  CHECK(reasons == std::vector<int>{18, 19, 19});
}
