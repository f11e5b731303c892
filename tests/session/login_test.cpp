// Logins, refusals, redirects and the one-session-per-identity policy, over
// real sockets with a protocol client written from the protocol document.
#include <catch2/catch.hpp>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

using test::op::disconnect;
using test::op::login_failed;
using test::op::login_ok;
using test::op::redirect;
using test::op::session_message;

TEST_CASE("a client logs in and its messages are answered after their task commits") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient c(net.tcp);
  const std::uint64_t id = c.connect_session("ana", "pw");
  CHECK(id != 0);
  auto welcome = c.read_skipping_heartbeats();
  REQUIRE(welcome);
  CHECK(welcome->op == session_message);
  CHECK(welcome->body == "welcome ana");
  c.send(session_message, "echo:hello");
  auto reply = c.read_skipping_heartbeats();
  REQUIRE(reply);
  CHECK(reply->body == "hello");
  c.send(session_message, "name");
  CHECK(c.read_skipping_heartbeats()->body == "ana");
  auto m = net.server->metrics();
  CHECK(m.logins_succeeded == 1);
  CHECK(m.sessions_active == 1);
}

TEST_CASE("a wrong password is refused and the account keeps its password") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  {
    test::RawClient c(net.tcp);
    c.connect_session("bob", "right");
  }
  test::RawClient c(net.tcp);
  c.hello();
  auto f = c.login("bob", "wrong");
  CHECK(f.op == login_failed);
  CHECK(test::get16(f.body, 0) == 6);  // bad_credentials
  f = c.login("bob", "right");
  CHECK(f.op == login_ok);
  CHECK(log.count({"bob", "failed"}) >= 1);
}

TEST_CASE("the game can refuse or redirect a login") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient c(net.tcp);
  c.hello();
  auto f = c.login("banned", "x");
  CHECK(f.op == login_failed);
  CHECK(test::get16(f.body, 0) == 17);  // refused
  CHECK(f.body.find("you are banned") != std::string::npos);

  test::RawClient d(net.tcp);
  d.hello();
  f = d.login("moved", "x");
  REQUIRE(f.op == redirect);
  CHECK(f.body.substr(2, 9) == "127.0.0.1");
  CHECK(test::get16(f.body, 11) == 7777);
  CHECK(d.wait_closed());
  CHECK(net.server->metrics().sessions_active == 0);
}

TEST_CASE("a second login of an identity replaces the first session") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::RawClient first(net.tcp);
  first.connect_session("cy", "pw");
  test::RawClient second(net.tcp);
  second.connect_session("cy", "pw");
  CHECK(first.wait_disconnect_reason() == 12);  // duplicate_login
  second.send(session_message, "echo:still here");
  auto welcome = second.read_skipping_heartbeats();
  REQUIRE(welcome);
  CHECK(welcome->body == "welcome cy");
  CHECK(second.read_skipping_heartbeats()->body == "still here");
  CHECK(net.events() == std::vector<std::string>{"cy:lost"});
  CHECK(net.server->metrics().sessions_active == 1);
}

TEST_CASE("with refuse_new, a second login of a live identity is refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.duplicate_login = starhold::ServerOptions::DuplicateLogin::refuse_new;
  });
  test::RawClient first(net.tcp);
  first.connect_session("di", "pw");
  test::RawClient second(net.tcp);
  second.hello();
  auto f = second.login("di", "pw");
  CHECK(f.op == login_failed);
  CHECK(test::get16(f.body, 0) == 16);  // already_logged_in
  first.send(session_message, "echo:ok");
  first.read_skipping_heartbeats();  // welcome
  CHECK(first.read_skipping_heartbeats()->body == "ok");
}
