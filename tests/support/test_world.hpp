// A small networked world for the session and channel tests. Its session
// listener obeys text commands, so each test drives the server through real
// sockets:
//   echo:X            replies X
//   num:N             checks N follows the last number, replies ack:N
//   fail:X            sends X, then throws (nothing may arrive)
//   join:ROOM         joins (creating) a channel that forwards client messages
//   leave:ROOM        leaves it
//   say:ROOM:TEXT     sends TEXT on the channel
//   kick              ends its own session
//   blast:N:SIZE      sends N messages of SIZE bytes
//   name / connected  replies the session's name / yes or no
// The world records each session end in the stored "events" object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "starhold/starhold.hpp"
#include "support/test_support.hpp"

namespace test {

struct Events final : starhold::Managed<Events> {
  static constexpr std::string_view type_name = "test.Events";
  std::vector<std::string> log;
  template <class F>
  void fields(F& f) {
    f(1, log);
  }
};

struct Player final : starhold::Managed<Player, starhold::SessionListener> {
  static constexpr std::string_view type_name = "test.Player";
  std::string name;
  std::int64_t last = 0;
  std::int64_t out_of_order = 0;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, last);
    f(3, out_of_order);
  }
  void received(starhold::Transaction& tx, starhold::Session s, std::string_view message) override;
  void disconnected(starhold::Transaction& tx, starhold::Session s, bool graceful) override;
};

struct World final : starhold::AppListener {
  void initialize(starhold::Transaction& tx) override;
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session s) override;
};

// A server of World listening on plain TCP and TLS (certificate made now).
struct NetServer {
  NetServer(const std::string& dir, LogCapture& log,
            const std::function<void(starhold::ServerOptions&)>& tweak = {});
  std::unique_ptr<starhold::Server> server;
  std::uint16_t tcp = 0, tls = 0, ws = 0;
  std::string ca;  // the certificate, for clients to trust
  std::vector<std::string> events();
  std::int64_t out_of_order(const std::string& player_bound_name);
};

}  // namespace test
