// Ordering and commit release of session messages.
#include <catch2/catch.hpp>

#include <thread>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

using test::op::session_message;

TEST_CASE("10,000 numbered messages are handled and answered in order while others run") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  // Other clients keep the server busy meanwhile.
  std::atomic<bool> stop{false};
  std::atomic<int> others_answered{0};
  std::vector<std::thread> others;
  for (int i = 0; i < 4; ++i) {
    others.emplace_back([&, i] {
      test::RawClient o(net.tcp);
      o.connect_session("other" + std::to_string(i), "pw");
      o.read_skipping_heartbeats();  // welcome
      while (!stop) {
        o.send(session_message, "echo:x");
        auto f = o.read_skipping_heartbeats();
        if (!f) return;
        if (f->body == "x") ++others_answered;
      }
    });
  }
  test::RawClient c(net.tcp);
  c.connect_session("counter", "pw");
  c.read_skipping_heartbeats();  // welcome
  constexpr int kCount = 10000;
  std::thread sender([&] {
    std::string batch;
    for (int i = 1; i <= kCount; ++i) {
      batch += test::frame(session_message, "num:" + std::to_string(i));
      if (i % 100 == 0) {
        c.send_raw(batch);
        batch.clear();
      }
    }
  });
  int expected = 1;
  bool in_order = true;
  while (expected <= kCount) {
    auto f = c.read_skipping_heartbeats(std::chrono::seconds(30));
    if (!f) break;
    if (f->body != "ack:" + std::to_string(expected)) in_order = false;
    ++expected;
  }
  sender.join();
  stop = true;
  for (auto& t : others)
    t.join();
  CHECK(expected == kCount + 1);
  CHECK(in_order);
  CHECK(net.out_of_order("player.counter") == 0);
  CHECK(others_answered.load() > 0);
}

TEST_CASE("a task that sends and then throws delivers nothing; one that commits delivers once") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient c(net.tcp);
  c.connect_session("eve", "pw");
  c.read_skipping_heartbeats();  // welcome
  c.send(session_message, "fail:must not arrive");
  c.send(session_message, "echo:arrives");
  c.send(session_message, "echo:once");
  auto a = c.read_skipping_heartbeats();
  auto b = c.read_skipping_heartbeats();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->body == "arrives");
  CHECK(b->body == "once");
  CHECK_FALSE(c.read_skipping_heartbeats(std::chrono::milliseconds(300)).has_value());
  CHECK(net.server->metrics().aborts_exception == 1);
  CHECK(log.count({"eve", "the test asked this task to fail"}) == 1);
}

TEST_CASE("the game ends a session: the client is told and the listener runs") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient c(net.tcp);
  c.connect_session("fay", "pw");
  c.send(session_message, "kick");
  CHECK(c.wait_disconnect_reason() == 13);  // kicked
  CHECK(test::wait_until([&] { return net.events() == std::vector<std::string>{"fay:graceful"}; }));
  CHECK(test::wait_until([&] { return net.server->metrics().sessions_active == 0; }));
}

TEST_CASE("logout ends the session gracefully") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient c(net.tcp);
  c.connect_session("gus", "pw");
  c.send(test::op::logout);
  bool got_logout_ok = false;
  while (auto f = c.read())
    got_logout_ok |= f->op == test::op::logout_ok;
  CHECK(got_logout_ok);
  CHECK(test::wait_until([&] { return net.events() == std::vector<std::string>{"gus:graceful"}; }));
}
