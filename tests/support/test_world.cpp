#include "support/test_world.hpp"

#include <stdexcept>

namespace test {
namespace {
std::string_view after(std::string_view s, std::string_view prefix) {
  return s.substr(prefix.size());
}
bool starts(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
}  // namespace

void Player::received(starhold::Transaction& tx, starhold::Session s, std::string_view m) {
  if (starts(m, "echo:")) {
    s.send(tx, after(m, "echo:"));
  } else if (starts(m, "num:")) {
    const std::int64_t n = std::stoll(std::string(after(m, "num:")));
    if (n != last + 1) ++out_of_order;
    last = n;
    s.send(tx, "ack:" + std::to_string(n));
  } else if (starts(m, "fail:")) {
    s.send(tx, after(m, "fail:"));
    throw std::runtime_error("the test asked this task to fail");
  } else if (starts(m, "join:")) {
    const std::string room(after(m, "join:"));
    auto ch = starhold::Channel::find(tx, room);
    if (!ch) ch = starhold::Channel::create(tx, room, {}, {true});
    ch.join(tx, s);
  } else if (starts(m, "leave:")) {
    starhold::Channel::find(tx, after(m, "leave:")).leave(tx, s);
  } else if (starts(m, "say:")) {
    const std::string_view rest = after(m, "say:");
    const auto colon = rest.find(':');
    starhold::Channel::find(tx, rest.substr(0, colon)).send(tx, rest.substr(colon + 1));
  } else if (m == "kick") {
    s.disconnect(tx);
  } else if (starts(m, "blast:")) {
    const std::string_view rest = after(m, "blast:");
    const auto colon = rest.find(':');
    const int n = std::stoi(std::string(rest.substr(0, colon)));
    const std::string payload(std::stoul(std::string(rest.substr(colon + 1))), 'b');
    for (int i = 0; i < n; ++i)
      s.send(tx, payload);
  } else if (m == "name") {
    s.send(tx, s.name(tx));
  } else if (m == "connected") {
    s.send(tx, s.connected(tx) ? "yes" : "no");
  }
}

void Player::disconnected(starhold::Transaction& tx, starhold::Session, bool graceful) {
  tx.lookup<Events>("events").log.push_back(name + (graceful ? ":graceful" : ":lost"));
}

void World::initialize(starhold::Transaction& tx) {
  tx.bind("events", tx.create<Events>());
}

starhold::LoginResult World::logged_in(starhold::Transaction& tx, starhold::Session s) {
  const std::string name = s.name(tx);
  if (name == "banned") return starhold::LoginResult::refuse("you are banned");
  if (name == "moved") return starhold::LoginResult::redirect("127.0.0.1", 7777);
  auto& p = tx.create<Player>();
  p.name = name;
  tx.bind("player." + name, p);
  s.send(tx, "welcome " + name);
  return starhold::LoginResult::accept(p);
}

NetServer::NetServer(const std::string& dir, LogCapture& log,
                     const std::function<void(starhold::ServerOptions&)>& tweak) {
  ca = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  starhold::write_development_certificate(ca, key);
  auto o = options_for(dir + "/store", log, 2);
  o.tcp_port = 0;
  o.tls_port = 0;
  o.websocket_port = 0;
  o.tls_certificate = ca;
  o.tls_private_key = key;
  o.signup_on_first_login = true;
  o.password_hash_cost = 8;  // fast for tests
  o.max_message_rate = 0;
  o.max_failed_logins = 64;  // every test client shares 127.0.0.1 and many log in at once
  o.network_threads = 2;
  if (tweak) tweak(o);
  server = std::make_unique<starhold::Server>(o);
  server->set_app_listener(std::make_shared<World>());
  server->start();
  tcp = server->port(starhold::Server::Listener::tcp);
  tls = server->port(starhold::Server::Listener::tls);
  ws = server->port(starhold::Server::Listener::websocket);
}

std::vector<std::string> NetServer::events() {
  std::vector<std::string> out;
  run(*server, [&](starhold::Transaction& tx) { out = tx.lookup<Events>("events").log; });
  return out;
}

std::int64_t NetServer::out_of_order(const std::string& name) {
  std::int64_t n = -1;
  run(*server, [&](starhold::Transaction& tx) { n = tx.lookup<Player>(name).out_of_order; });
  return n;
}

}  // namespace test
