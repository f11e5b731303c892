// Channels with many members, joins in a crowd, and reconnects.
#include <catch2/catch.hpp>

#include <thread>

#include <fmt/format.h>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

using test::op::channel_joined;
using test::op::channel_message;
using test::op::session_message;

namespace {
constexpr int kMembers = 200;
constexpr int kMessages = 20;
}  // namespace

TEST_CASE("hundreds join one channel at once and each receives every message once, in order") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  std::vector<std::unique_ptr<test::RawClient>> members;
  for (int i = 0; i < kMembers; ++i)
    members.push_back(std::make_unique<test::RawClient>(net.tcp));
  // Log in and join from many threads at once: a join storm.
  std::atomic<int> joined{0};
  std::vector<std::thread> joiners;
  for (int t = 0; t < 8; ++t) {
    joiners.emplace_back([&, t] {
      for (int i = t; i < kMembers; i += 8) {
        auto& c = *members[static_cast<std::size_t>(i)];
        c.connect_session(fmt::format("m{}", i), "pw");
        c.send(session_message, "join:hall");
      }
      for (int i = t; i < kMembers; i += 8) {
        auto& c = *members[static_cast<std::size_t>(i)];
        while (auto f = c.read_skipping_heartbeats()) {
          if (f->op == channel_joined) {
            if (f->body.substr(10) == "hall") ++joined;
            break;
          }
        }
      }
    });
  }
  for (auto& t : joiners)
    t.join();
  REQUIRE(joined.load() == kMembers);

  test::RawClient speaker(net.tcp);
  speaker.connect_session("speaker", "pw");
  for (int i = 0; i < kMessages; ++i) {
    speaker.send(session_message, "say:hall:msg" + std::to_string(i));
  }
  int complete = 0;
  for (auto& c : members) {
    int next = 0;
    while (next < kMessages) {
      auto f = c->read_skipping_heartbeats(std::chrono::seconds(10));
      if (!f || f->op != channel_message) break;
      if (f->body.substr(8) != "msg" + std::to_string(next)) break;
      ++next;
    }
    complete += next == kMessages ? 1 : 0;
    CHECK_FALSE(c->read_skipping_heartbeats(std::chrono::milliseconds(1)).has_value());
  }
  CHECK(complete == kMembers);
  CHECK(net.server->metrics().aborts_conflict == 0);  // joins never conflicted
}

TEST_CASE("a client's message on a channel goes through the server to every member") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient a(net.tcp), b(net.tcp), outsider(net.tcp);
  std::uint64_t channel = 0;
  for (auto* c : {&a, &b}) {
    c->connect_session(c == &a ? "a" : "b", "pw");
    c->send(session_message, "join:room");
    while (auto f = c->read_skipping_heartbeats()) {
      if (f->op == channel_joined) {
        channel = test::get64(f->body, 0);
        break;
      }
    }
  }
  outsider.connect_session("outsider", "pw");
  outsider.send(channel_message, test::be64(channel) + "not a member");  // dropped
  a.send(channel_message, test::be64(channel) + "hi all");
  for (auto* c : {&a, &b}) {
    auto f = c->read_skipping_heartbeats();
    REQUIRE(f);
    CHECK(f->op == channel_message);
    CHECK(f->body.substr(8) == "hi all");
  }
  CHECK_FALSE(b.read_skipping_heartbeats(std::chrono::milliseconds(200)).has_value());
}

TEST_CASE("a reconnect within the grace period resumes the session with nothing lost") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  auto roamer = std::make_unique<test::RawClient>(net.tcp);
  const std::uint64_t id = roamer->connect_session("roamer", "pw");
  roamer->send(session_message, "join:plaza");
  std::uint64_t received = 0;
  while (auto f = roamer->read_skipping_heartbeats()) {
    ++received;  // welcome, then CHANNEL_JOINED
    if (f->op == channel_joined) break;
  }
  const std::string token = roamer->token();
  roamer->close();  // the connection is lost, not logged out

  test::RawClient talker(net.tcp);
  talker.connect_session("talker", "pw");
  for (int i = 0; i < 5; ++i)
    talker.send(session_message, "say:plaza:while away " + std::to_string(i));
  talker.send(session_message, "echo:done");
  while (auto f = talker.read_skipping_heartbeats()) {
    if (f->body == "done") break;
  }

  test::RawClient back(net.tcp);
  back.hello();
  back.send(test::op::reconnect, test::str16(token) + test::be64(received));
  auto ok = back.read_skipping_heartbeats();
  REQUIRE(ok);
  REQUIRE(ok->op == test::op::reconnect_ok);
  CHECK(test::get64(ok->body, 0) == id);
  for (int i = 0; i < 5; ++i) {
    auto f = back.read_skipping_heartbeats();
    REQUIRE(f);
    CHECK(f->op == channel_message);
    CHECK(f->body.substr(8) == "while away " + std::to_string(i));
  }
  back.send(session_message, "echo:back");
  CHECK(back.read_skipping_heartbeats()->body == "back");
  CHECK(net.events().empty());  // the game saw no disconnect
  CHECK(net.server->metrics().reconnects == 1);
}

TEST_CASE("after the grace period the session ends and the game is told") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.reconnect_grace = std::chrono::milliseconds(200);
  });
  std::string token;
  {
    test::RawClient c(net.tcp);
    c.connect_session("gone", "pw");
    token = c.token();
  }
  CHECK(test::wait_until([&] { return net.events() == std::vector<std::string>{"gone:lost"}; }));
  test::RawClient late(net.tcp);
  late.hello();
  late.send(test::op::reconnect, test::str16(token) + test::be64(0));
  auto f = late.read_skipping_heartbeats();
  REQUIRE(f);
  CHECK(f->op == test::op::reconnect_failed);
}

TEST_CASE("sessions left by a crash are ended at start, and the game is told") {
  test::TempDir dir;
  test::LogCapture log;
  {
    test::NetServer net(dir.path(), log);
    test::RawClient c(net.tcp);
    c.connect_session("ghost", "pw");
    net.server->stop();  // like a crash, sessions are still in the store
  }
  test::NetServer again(dir.path(), log);
  CHECK(again.events() == std::vector<std::string>{"ghost:lost"});
  CHECK(log.count({"ended 1 sessions left by the previous run"}) == 1);
}
