// Who may resume a session: the holder of its current reconnect token only
// (tokens rotate on every reconnect), taking it over from a connection the
// server still thinks is alive, and not faster than the per-address limit.
#include <catch2/catch.hpp>

#include "session/manual_clock.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using namespace std::chrono_literals;
using test::op::reconnect_failed;
using test::op::reconnect_ok;
using test::op::session_message;

// The new token a RECONNECT_OK carries (after u64 session, u64 received).
std::string rotated_token(const test::Frame& ok) {
  REQUIRE(ok.op == reconnect_ok);
  REQUIRE(ok.body.size() >= 18);
  return ok.body.substr(18, test::get16(ok.body, 16));
}

int refusal(const test::Frame& f) {
  REQUIRE(f.op == reconnect_failed);
  return test::get16(f.body, 0);
}

// Sends echo:text and says whether it came back (other frames skipped).
bool echoes(test::RawClient& c, const std::string& text) {
  c.send(session_message, "echo:" + text);
  while (auto f = c.read_skipping_heartbeats()) {
    if (f->op == session_message && f->body == text) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a reconnect rotates the token and the old one stops working") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  std::string first;
  {
    test::RawClient c(net.tcp);
    c.connect_session("rover", "pw");
    first = c.token();
  }
  std::string second;
  {
    test::RawClient c(net.tcp);
    second = rotated_token(c.reconnect(first, 0));
    CHECK(second.size() == first.size());
    CHECK(second != first);
  }
  test::RawClient stale(net.tcp);
  CHECK(refusal(stale.reconnect(first, 0)) == 18);  // invalid_token
  test::RawClient current(net.tcp);
  CHECK(rotated_token(current.reconnect(second, 0)) != second);
  CHECK(echoes(current, "still rover"));
  CHECK(net.events().empty());
}

TEST_CASE("a reconnect onto a live connection takes the session over") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient old(net.tcp);
  old.connect_session("twin", "pw");
  REQUIRE(old.read_skipping_heartbeats());  // the welcome: 1 counted frame
  test::RawClient taker(net.tcp);
  const std::string token = rotated_token(taker.reconnect(old.token(), 1));
  // The old connection is told, then closed; the session goes on on the new one.
  CHECK(old.wait_disconnect_reason() == 24);  // resumed_elsewhere
  CHECK(old.wait_closed());
  CHECK(echoes(taker, "taken over"));
  CHECK(net.events().empty());
  test::RawClient again(net.tcp);
  CHECK(refusal(again.reconnect(old.token(), 1)) == 18);
  CHECK_FALSE(token.empty());
}

TEST_CASE("reconnect attempts are limited per address, in a table of bounded size") {
  test::TempDir dir;
  test::LogCapture log;
  auto clock = test::ManualClock::make();
  test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
    o.reconnect_burst = 2;
    o.reconnect_rate = 1;  // a second
    o.reconnect_rate_addresses = 2;
    o.session_clock = test::ManualClock::function(clock);
  });
  // An attempt from source: its RECONNECT_FAILED reason, or the DISCONNECT's.
  auto attempt = [&](const char* source) {
    test::RawClient c(net.tcp, source);
    c.hello();
    c.send(test::op::reconnect, test::str16("no such token") + test::be64(0));
    auto f = c.read_skipping_heartbeats();
    REQUIRE(f);
    return f->op == test::op::disconnect ? 1000 + test::get16(f->body, 0) : refusal(*f);
  };
  CHECK(attempt("127.0.0.2") == 18);
  CHECK(attempt("127.0.0.2") == 18);
  CHECK(attempt("127.0.0.2") == 1007);  // DISCONNECT too_many_attempts
  CHECK(attempt("127.0.0.3") == 18);    // another address has its own allowance
  clock->advance(1s);
  CHECK(attempt("127.0.0.2") == 18);  // one attempt refilled
  CHECK(attempt("127.0.0.2") == 1007);
  // Two other addresses push 127.0.0.2, the least recently seen, out of the
  // table: it starts again with a full burst.
  CHECK(attempt("127.0.0.3") == 18);
  CHECK(attempt("127.0.0.4") == 18);
  CHECK(attempt("127.0.0.2") == 18);
  CHECK(attempt("127.0.0.2") == 18);
  CHECK(attempt("127.0.0.2") == 1007);
}
