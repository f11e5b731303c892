// What the example programs share: their command lines, and for the servers
// a development TLS setup and running until Ctrl-C. Kept apart so that each
// example file shows only its world.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include "starhold/client.hpp"
#include "starhold/config.hpp"
#include "starhold/server.hpp"

namespace examples {

// ---- Clients -------------------------------------------------------------------

struct ClientSettings {
  starhold::client::ClientOptions options;
  std::string name = "guest";
  std::string password;
};

[[noreturn]] inline void client_usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s --port N [--host H] [--transport tls|tcp|ws|wss]\n"
               "          [--ca FILE] [--insecure] [--name NAME] [--password PW]\n",
               program);
  std::exit(2);
}

inline ClientSettings parse_client(int argc, char** argv) {
  ClientSettings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--insecure") {
      s.options.verify_server = false;  // accept any certificate: development only
      continue;
    }
    if (i + 1 >= argc) client_usage(argv[0]);
    const std::string value = argv[++i];
    if (flag == "--host") {
      s.options.host = value;
    } else if (flag == "--port") {
      const int port = std::atoi(value.c_str());
      if (port <= 0 || port > 65535) client_usage(argv[0]);
      s.options.port = static_cast<std::uint16_t>(port);
    } else if (flag == "--transport") {
      using starhold::client::Transport;
      if (value == "tls") {
        s.options.transport = Transport::tls;
      } else if (value == "tcp") {
        s.options.transport = Transport::tcp;
      } else if (value == "ws") {
        s.options.transport = Transport::websocket;
      } else if (value == "wss") {
        s.options.transport = Transport::websocket_tls;
      } else {
        client_usage(argv[0]);
      }
    } else if (flag == "--ca") {
      s.options.ca_file = value;
    } else if (flag == "--name") {
      s.name = value;
    } else if (flag == "--password") {
      s.password = value;
    } else {
      client_usage(argv[0]);
    }
  }
  if (s.options.port == 0) client_usage(argv[0]);
  return s;
}

// ---- Servers -------------------------------------------------------------------

inline std::string server_arg(int argc, char** argv, std::string_view name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

// Options for an example server from
//   [--config FILE.toml] [--port N] [--tcp-port N] [--ws-port N] [--data DIR]
// TLS on --port with a development certificate made under DIR on first run,
// and accounts created at a name's first login. A --config file (see
// starhold/config.hpp) sets everything else.
inline starhold::ServerOptions server_options(int argc, char** argv, int default_port,
                                              const std::string& default_dir) {
  const std::string dir = server_arg(argc, argv, "--data", default_dir);
  std::filesystem::create_directories(dir);
  const std::string config = server_arg(argc, argv, "--config", "");
  starhold::ServerOptions o =
      config.empty() ? starhold::ServerOptions{} : starhold::load_server_options(config);
  o.store_path = dir + "/store";
  o.tls_port = std::stoi(server_arg(argc, argv, "--port", std::to_string(default_port)));
  o.tcp_port = std::stoi(server_arg(argc, argv, "--tcp-port", "-1"));
  o.websocket_port = std::stoi(server_arg(argc, argv, "--ws-port", "-1"));
  o.tls_certificate = dir + "/dev-cert.pem";
  o.tls_private_key = dir + "/dev-key.pem";
  o.signup_on_first_login = true;
  if (!std::filesystem::exists(o.tls_certificate)) {
    starhold::write_development_certificate(o.tls_certificate, o.tls_private_key);
    std::printf("created a development certificate: %s\n", o.tls_certificate.c_str());
  }
  return o;
}

// Serves until SIGINT or SIGTERM, then stops the server cleanly.
inline void run_until_interrupted(starhold::Server& server) {
  static std::atomic<bool> stop{false};
  std::signal(SIGINT, [](int) { stop = true; });
  std::signal(SIGTERM, [](int) { stop = true; });
  while (!stop)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
}

}  // namespace examples
