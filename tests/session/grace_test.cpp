// Reconnect grace periods, driven by a clock the test steps: a session that
// lost its connection waits for a reconnect exactly as long as its latest
// loss allows.
#include <catch2/catch.hpp>

#include <algorithm>

#include "session/manual_clock.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using namespace std::chrono_literals;

bool has(const std::vector<std::string>& events, const std::string& e) {
  return std::find(events.begin(), events.end(), e) != events.end();
}

}  // namespace

TEST_CASE("a session resumed and lost again lives until its latest grace period ends") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = test::ManualClock::make();
  test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
    o.reconnect_grace = 10s;
    o.session_clock = test::ManualClock::function(clock);
  });
  auto lost = [&](const std::string& name, std::size_t times) {
    return test::wait_until(
        [&] { return log.count({"'" + name + "' lost its connection"}) == times; });
  };

  auto stay = std::make_unique<test::RawClient>(net.tcp);
  stay->connect_session("stay", "pw");
  std::string token = stay->token();
  test::RawClient witness(net.tcp);
  witness.connect_session("witness", "pw");

  stay->close();
  REQUIRE(lost("stay", 1));  // its first grace period: 0 s to 10 s
  clock->advance(1s);
  witness.close();
  REQUIRE(lost("witness", 1));  // the witness's: 1 s to 11 s
  clock->advance(5s);

  stay = std::make_unique<test::RawClient>(net.tcp);
  auto ok = stay->reconnect(token, 1);
  REQUIRE(ok.op == test::op::reconnect_ok);
  token = stay->token();  // tokens rotate
  stay->close();
  REQUIRE(lost("stay", 2));  // its second grace period: 6 s to 16 s

  // At 12 s the first period and the witness's are over; periods end in the
  // order they began, so once the witness has ended the first one was seen.
  clock->advance(6s);
  REQUIRE(test::wait_until([&] { return has(net.events(), "witness:lost"); }));
  stay = std::make_unique<test::RawClient>(net.tcp);
  ok = stay->reconnect(token, 1);
  CHECK(ok.op == test::op::reconnect_ok);
  CHECK_FALSE(has(net.events(), "stay:lost"));

  // Lost once more at 12 s: it ends when that period ends, at 22 s.
  stay->close();
  REQUIRE(lost("stay", 3));
  clock->advance(10s);
  CHECK(test::wait_until([&] { return has(net.events(), "stay:lost"); }));
}
