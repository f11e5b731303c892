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
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

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

std::atomic<bool> stop_requested{false};

int port_arg(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return std::stoi(argv[i + 1]);
  }
  return fallback;
}

std::string string_arg(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = string_arg(argc, argv, "--data", "echo-data");
  std::filesystem::create_directories(dir);

  starhold::ServerOptions options;
  options.store_path = dir + "/store";
  options.tls_port = port_arg(argc, argv, "--port", 7700);
  options.tcp_port = port_arg(argc, argv, "--tcp-port", -1);
  options.websocket_port = port_arg(argc, argv, "--ws-port", -1);
  options.tls_certificate = dir + "/dev-cert.pem";
  options.tls_private_key = dir + "/dev-key.pem";
  options.signup_on_first_login = true;
  if (!std::filesystem::exists(options.tls_certificate)) {
    starhold::write_development_certificate(options.tls_certificate, options.tls_private_key);
    std::printf("created a development certificate: %s\n", options.tls_certificate.c_str());
  }

  starhold::Server server(options);
  server.set_app_listener(std::make_shared<EchoWorld>());
  server.start();
  std::printf("echo server listening: TLS on port %u\n",
              server.port(starhold::Server::Listener::tls));
  std::fflush(stdout);

  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });
  while (!stop_requested)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
}
