// Server options from TOML.
#include <catch2/catch.hpp>

#include <fstream>

#include "starhold/config.hpp"
#include "support/test_support.hpp"

TEST_CASE("a TOML file sets the options it names and leaves the rest at their defaults") {
  const auto o = starhold::parse_server_options(R"(
[store]
path = "/srv/world"
durable = false
[tasks]
workers = 3
time_limit_ms = 250
[network]
tls_port = 7700
reconnect_grace_ms = 0
[logins]
duplicate = "refuse_new"
[log]
level = "warn"
)");
  CHECK(o.store_path == "/srv/world");
  CHECK_FALSE(o.durable);
  CHECK(o.workers == 3);
  CHECK(o.task_time_limit == std::chrono::milliseconds(250));
  CHECK(o.tls_port == 7700);
  CHECK(o.reconnect_grace.count() == 0);
  CHECK(o.duplicate_login == starhold::ServerOptions::DuplicateLogin::refuse_new);
  CHECK(o.log_level == starhold::LogLevel::warn);
  const starhold::ServerOptions defaults;
  CHECK(o.tcp_port == defaults.tcp_port);
  CHECK(o.max_conflict_retries == defaults.max_conflict_retries);
}

TEST_CASE("mistakes in a TOML file are reported with file, line and key") {
  using Catch::Contains;
  CHECK_THROWS_WITH(
      starhold::parse_server_options("[tasks]\nwrokers = 2\n", {}, "world.toml"),
      Contains("world.toml:2") && Contains("tasks.wrokers") && Contains("unknown key"));
  CHECK_THROWS_WITH(starhold::parse_server_options("[tasks]\nworkers = \"two\"\n"),
                    Contains("tasks.workers") && Contains("expected an integer"));
  CHECK_THROWS_WITH(starhold::parse_server_options("[network]\ntls_port = 70000\n"),
                    Contains("network.tls_port") && Contains("outside"));
  CHECK_THROWS_WITH(starhold::parse_server_options("[logins]\nduplicate = \"both\"\n"),
                    Contains("logins.duplicate"));
  CHECK_THROWS_AS(starhold::parse_server_options("[tasks\nworkers = 1\n"), starhold::ConfigError);
}

TEST_CASE("options load from a file") {
  test::TempDir dir;
  const std::string path = dir.sub("server.toml");
  std::ofstream(path) << "[data]\ncache_bytes = 33554432\n";
  CHECK(starhold::load_server_options(path).cache_bytes == 33554432u);
  CHECK_THROWS_AS(starhold::load_server_options(dir.sub("missing.toml")), starhold::ConfigError);
}
