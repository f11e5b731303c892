// Password guessing is throttled per address and per account, and counted
// before any password is hashed. Clients connect from distinct loopback
// addresses (127.x.y.z), so the server sees each as another machine.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::login_failed;
using test::op::login_ok;

constexpr std::uint16_t kBadCredentials = 6;
constexpr std::uint16_t kTooManyAttempts = 7;

// The reason code of a LOGIN_FAILED or DISCONNECT; 0 for anything else.
std::uint16_t reason_of(const test::Frame& f) {
  return f.op == login_failed || f.op == test::op::disconnect ? test::get16(f.body, 0) : 0;
}

// One login from source_ip on a fresh connection; the reply's reason (0 for LOGIN_OK).
std::uint16_t login_from(std::uint16_t port, const std::string& source_ip, const std::string& name,
                         const std::string& password) {
  test::RawClient c(port, source_ip);
  c.hello();
  const test::Frame f = c.login(name, password);
  return f.op == login_ok ? 0 : reason_of(f);
}

}  // namespace

TEST_CASE("parallel guesses from one address are counted before any is hashed") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.max_failed_logins = 3;
    o.max_failed_logins_per_account = 1000;
  });
  REQUIRE(login_from(net.tcp, "127.0.0.9", "vic", "right") == 0);  // creates the account

  test::RawClient first(net.tcp);
  first.hello();
  CHECK(reason_of(first.login("vic", "wrong-1")) == kBadCredentials);
  CHECK(reason_of(first.login("vic", "wrong-2")) == kBadCredentials);
  // One guess is left. Eight connections guess at once.
  std::vector<std::unique_ptr<test::RawClient>> burst;
  for (int i = 0; i < 8; ++i) {
    burst.push_back(std::make_unique<test::RawClient>(net.tcp));
    burst.back()->hello();
  }
  for (int i = 0; i < 8; ++i)
    burst[i]->send(test::op::login, test::str16("vic") + test::str16(fmt::format("burst-{}", i)));
  int refused = 0;
  for (auto& c : burst) {
    auto f = c->read_skipping_heartbeats();
    REQUIRE(f);
    refused += reason_of(*f) == kTooManyAttempts ? 1 : 0;
  }
  // Exactly one more password was checked: the two before and one of the burst.
  CHECK(log.count({"login of 'vic' from 127.0.0.1 failed", "wrong password"}) == 3);
  CHECK(refused == 8);
}

TEST_CASE("a stranger's guesses throttle the account but do not lock its owner out") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.max_failed_logins = 3;
    o.max_failed_logins_per_account = 4;
    o.login_lockout = std::chrono::milliseconds(2000);
  });
  const std::string owner = "127.0.0.3";
  REQUIRE(login_from(net.tcp, owner, "vic", "right") == 0);

  // One attacking address locks only itself.
  {
    test::RawClient attacker(net.tcp, "127.0.0.2");
    attacker.hello();
    CHECK(reason_of(attacker.login("vic", "a")) == kBadCredentials);
    CHECK(reason_of(attacker.login("vic", "b")) == kBadCredentials);
    CHECK(reason_of(attacker.login("vic", "c")) == kTooManyAttempts);
    CHECK(attacker.wait_disconnect_reason() == kTooManyAttempts);
  }
  CHECK(login_from(net.tcp, owner, "vic", "right") == 0);

  // Many addresses together use up the account's allowance (the attacker's
  // three guesses count toward it); a new stranger is then refused without
  // a hash, while the owner's known address still logs in.
  CHECK(login_from(net.tcp, "127.0.1.1", "vic", "d") == kBadCredentials);
  CHECK(login_from(net.tcp, "127.0.1.2", "vic", "e") == kTooManyAttempts);
  CHECK(log.count({"refused the login of 'vic' from 127.0.1.2", "too many"}) == 1);
  CHECK(login_from(net.tcp, owner, "vic", "right") == 0);

  // The allowance refills over login_lockout: a throttle, not a lock.
  int next = 0;
  CHECK(test::wait_until(
      [&] {
        ++next;
        const auto from = fmt::format("127.0.{}.{}", 2 + next / 250, 1 + next % 250);
        return login_from(net.tcp, from, "vic", "f") == kBadCredentials;
      },
      std::chrono::seconds(20)));
}

TEST_CASE("the table of login attempts stays within its bound") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.max_failed_logins = 1000;
    o.login_throttle_entries = 32;
    o.signup_on_first_login = false;
  });
  test::RawClient c(net.tcp);
  c.hello();
  for (int i = 0; i < 100; ++i)
    REQUIRE(reason_of(c.login(fmt::format("nobody-{}", i), "x")) == kBadCredentials);
  const auto entries = net.server->metrics().login_throttle_entries;
  CHECK(entries > 0);
  CHECK(entries <= 32);
}
