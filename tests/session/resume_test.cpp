// Resume tokens: a client that was logged in logs in again without its
// password, even after the server restarted, as long as the token is the
// server's own, unexpired and not revoked.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>
#include <thread>

#include "starhold/client.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using namespace std::chrono_literals;
using test::op::login_failed;
using test::op::login_ok;
using test::op::session_message;

// The identity the session answers to ("name" command), skipping other frames.
std::string name_of(test::RawClient& c) {
  c.send(session_message, "name");
  c.send(session_message, "echo:end of name");
  std::string last;
  while (auto f = c.read_skipping_heartbeats()) {
    if (f->body == "end of name") return last;
    last = f->body;
  }
  return "?";
}

int refusal(const test::Frame& f) {
  REQUIRE(f.op == login_failed);
  return test::get16(f.body, 0);
}

// A NetServer's options for a restart on the same ports.
std::function<void(starhold::ServerOptions&)> same_ports(std::uint16_t tcp) {
  return [tcp](starhold::ServerOptions& o) { o.tcp_port = tcp; };
}

}  // namespace

TEST_CASE("a resume token logs the client in again after a restart, without the password") {
  test::TempDir dir;
  test::LogCapture log;
  std::string token;
  {
    test::NetServer net(dir.path(), log);
    test::RawClient c(net.tcp);
    c.connect_session("phoenix", "secret");
    token = c.resume_token();
    CHECK(token.size() > 32);
    net.server->stop();  // the session stays in the store, as after a crash
  }
  test::NetServer again(dir.path(), log);
  test::RawClient c(again.tcp);
  auto f = c.resume(token);
  REQUIRE(f.op == login_ok);
  CHECK(name_of(c) == "phoenix");
  CHECK(c.resume_token() != token);  // a fresh one, valid for a full lifetime
  CHECK(again.events() == std::vector<std::string>{"phoenix:lost"});  // the old session ended
}

TEST_CASE("a resume token is bound to its identity and to its server") {
  test::TempDir dir, other_dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  test::NetServer other(other_dir.path(), log);
  std::string token, foreign;
  {
    test::RawClient c(net.tcp);
    c.connect_session("anna", "pw");
    token = c.resume_token();
    test::RawClient d(other.tcp);
    d.connect_session("anna", "pw");
    foreign = d.resume_token();
  }
  std::string renamed = token;
  renamed[renamed.find("anna")] = 'b';  // "bnna": same length, other identity
  for (const std::string& bad : {renamed, foreign, std::string("junk"), std::string()}) {
    test::RawClient c(net.tcp);
    auto f = c.resume(bad);
    CHECK(refusal(f) == 18);  // invalid_token
  }
  test::RawClient c(net.tcp);
  REQUIRE(c.resume(token).op == login_ok);
  CHECK(name_of(c) == "anna");
}

TEST_CASE("revoked resume tokens are refused; a password login gets a new one") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  std::string old_token;
  {
    test::RawClient c(net.tcp);
    c.connect_session("mallory", "pw");
    old_token = c.resume_token();
  }
  test::run(*net.server,
            [](starhold::Transaction& tx) { starhold::revoke_resume_tokens(tx, "mallory"); });
  test::RawClient c(net.tcp);
  CHECK(refusal(c.resume(old_token)) == 18);
  // The connection stays open for a password login, which issues a good token.
  REQUIRE(c.login("mallory", "pw").op == login_ok);
  test::RawClient d(net.tcp);
  CHECK(d.resume(c.resume_token()).op == login_ok);
}

TEST_CASE("an expired resume token is refused") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.resume_token_lifetime = 1s; });
  test::RawClient c(net.tcp);
  c.connect_session("brief", "pw");
  const std::string token = c.resume_token();
  std::this_thread::sleep_for(1200ms);  // past the token's lifetime: it can only have expired
  test::RawClient late(net.tcp);
  auto f = late.resume(token);
  CHECK(refusal(f) == 18);
  CHECK(f.body.find("expired") != std::string::npos);
}

TEST_CASE("with a resume token lifetime of 0 no tokens are issued or taken") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.resume_token_lifetime = 0s; });
  test::RawClient c(net.tcp);
  c.connect_session("plain", "pw");
  CHECK(c.resume_token().empty());
  const std::string& body = c.login_ok();
  CHECK(test::get32(body, body.size() - 4) == 0);  // valid for 0 s
  test::RawClient d(net.tcp);
  CHECK(refusal(d.resume("anything")) == 18);
}

TEST_CASE("the client library logs in again with its resume token after a server restart") {
  test::TempDir dir;
  test::LogCapture log;
  auto net = std::make_unique<test::NetServer>(dir.path(), log);
  const std::uint16_t port = net->tcp;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> events;
  auto push = [&](std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  };
  auto next = [&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 30s, [&] { return !events.empty(); })) return std::string("timeout");
    std::string e = events.front();
    events.pop_front();
    return e;
  };
  starhold::client::ClientOptions o;
  o.port = port;
  o.transport = starhold::client::Transport::tcp;
  o.reconnect_delay = 50ms;
  starhold::client::Client client(o);
  client.on_logged_in = [&](std::uint64_t) { push("logged in"); };
  client.on_message = [&](std::string_view m) { push(std::string(m)); };
  client.on_disconnected = [&](const starhold::client::DisconnectInfo& i) {
    push((i.reconnecting ? "lost, reconnecting " : "disconnected ") + std::to_string(i.reason));
  };
  client.login("lazarus", "pw");
  CHECK(next() == "logged in");
  CHECK(next() == "welcome lazarus");

  net.reset();  // the server stops: DISCONNECT shutdown
  CHECK(next() == "lost, reconnecting 14");
  net = std::make_unique<test::NetServer>(dir.path(), log, same_ports(port));
  // Its RECONNECT finds no session (invalid_token); it logs in with the resume token.
  CHECK(next() == "lost, reconnecting 18");
  CHECK(next() == "logged in");
  CHECK(next() == "welcome lazarus");
  client.send("name");
  CHECK(next() == "lazarus");
  CHECK(net->server->metrics().logins_succeeded == 1);
}
