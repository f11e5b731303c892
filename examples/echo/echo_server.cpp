// echo_server: the smallest networked Starhold world.
//
// Every message a client sends becomes a task that sends it back. The reply
// leaves the server only once that task has committed, and a client's
// messages are handled strictly in the order it sent them.
//
//   echo_server [--port N] [--tcp-port N] [--ws-port N] [--data DIR]
//
// It listens for TLS on --port (default 7700) with a development certificate
// it creates under DIR on first run (dev-cert.pem; clients trust it with
// --ca DIR/dev-cert.pem). Any name may log in: the first login of a name
// creates its account with that password.
#include <cstdio>

#include "common/command_line.hpp"
#include "starhold/starhold.hpp"

namespace {

// The session listener: a managed object, one per session, stored like any
// other object. It has no fields: an echo needs no state.
struct Echo final : starhold::Managed<Echo, starhold::SessionListener> {
  static constexpr std::string_view type_name = "echo.Echo";
  template <class F>
  void fields(F&) {}

  void received(starhold::Transaction& tx, starhold::Session session,
                std::string_view message) override {
    session.send(tx, message);  // buffered; sent when this task commits
  }
  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}
};

// The application listener: called when a client logs in.
struct EchoWorld final : starhold::AppListener {
  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session) override {
    return starhold::LoginResult::accept(tx.create<Echo>());
  }
};

}  // namespace

int main(int argc, char** argv) {
  // TLS on --port (7700) with a development certificate; see common/command_line.hpp.
  starhold::ServerOptions options = examples::server_options(argc, argv, 7700, "echo-data");
  starhold::Server server(options);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  std::printf("echo server listening: TLS on port %u\n",
              server.port(starhold::Server::Listener::tls));
  std::fflush(stdout);
  examples::run_until_interrupted(server);
}
