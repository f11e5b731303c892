// The login and TLS options, read from TOML like every other option.
#include <catch2/catch.hpp>

#include "starhold/config.hpp"

TEST_CASE("the login limits and hash cost are read from the TOML logins section") {
  const auto o = starhold::parse_server_options(R"(
[logins]
max_failed = 7
lockout_ms = 1500
max_failed_per_account = 40
throttle_entries = 5000
password_hash_cost = 15
password_hash_parallelism = 3
)");
  CHECK(o.max_failed_logins == 7);
  CHECK(o.login_lockout == std::chrono::milliseconds(1500));
  CHECK(o.max_failed_logins_per_account == 40);
  CHECK(o.login_throttle_entries == 5000);
  CHECK(o.password_hash_cost == 15);
  CHECK(o.password_hash_parallelism == 3);
  CHECK_THROWS_AS(starhold::parse_server_options("[logins]\nthrottle_entries = 2\n"),
                  starhold::ConfigError);
}

TEST_CASE("the PROXY protocol is off by default and enabled per listener in TOML") {
  const starhold::ServerOptions defaults;
  CHECK_FALSE(defaults.tls_proxy_protocol);
  CHECK_FALSE(defaults.tcp_proxy_protocol);
  CHECK_FALSE(defaults.websocket_proxy_protocol);
  const auto o = starhold::parse_server_options(R"(
[network]
tls_proxy_protocol = true
websocket_proxy_protocol = true
)");
  CHECK(o.tls_proxy_protocol);
  CHECK_FALSE(o.tcp_proxy_protocol);
  CHECK(o.websocket_proxy_protocol);
}

TEST_CASE("the hashing queue is sized automatically unless the TOML file sets it") {
  CHECK(starhold::ServerOptions{}.password_hash_queue == 0);
  const auto o = starhold::parse_server_options("[logins]\npassword_hash_queue = 64\n");
  CHECK(o.password_hash_queue == 64);
}
