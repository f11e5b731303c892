// echo_client: logs in to a Starhold server, sends every line typed on
// standard input as a session message, and prints every message the server
// sends back.
//
//   echo_client --port 7700 --ca server-cert.pem --name ana --password secret
//
// It shows the whole life of a client: options, callbacks, login, sending,
// and a clean logout at the end of the input.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "starhold/client.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: echo_client [--host H] [--port N] [--transport tls|tcp|ws|wss]\n"
               "                   [--ca FILE] [--insecure] [--name NAME] [--password PW]\n");
  std::exit(2);
}

// The client's options and the login, from the command line.
struct Settings {
  starhold::client::ClientOptions options;
  std::string name = "guest";
  std::string password;
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--insecure") {
      s.options.verify_server = false;  // accept any certificate: development only
      continue;
    }
    if (i + 1 >= argc) usage();
    const std::string value = argv[++i];
    if (flag == "--host") {
      s.options.host = value;
    } else if (flag == "--port") {
      const int port = std::atoi(value.c_str());
      if (port <= 0 || port > 65535) usage();
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
        usage();
      }
    } else if (flag == "--ca") {
      s.options.ca_file = value;
    } else if (flag == "--name") {
      s.name = value;
    } else if (flag == "--password") {
      s.password = value;
    } else {
      usage();
    }
  }
  if (s.options.port == 0) usage();
  return s;
}

// What the callbacks (on the client's thread) tell the main thread.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  bool login_done = false;  // login succeeded or failed
  bool logged_in = false;
  bool ended = false;  // the session is over for good
  int replies = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // print each line at once, even into a pipe

  // Declared before the client, so that it outlives the client's callbacks.
  Progress progress;
  // The client runs its own network thread from here on.
  starhold::client::Client client(settings.options);

  // Each callback runs on the client's thread. They only print and update
  // `progress`; the main thread waits on it.
  client.on_logged_in = [&](std::uint64_t session) {
    std::printf("* logged in, session %llu\n", static_cast<unsigned long long>(session));
    std::lock_guard lock(progress.mutex);
    progress.login_done = progress.logged_in = true;
    progress.changed.notify_all();
  };
  client.on_login_failed = [&](std::uint16_t reason, const std::string& message) {
    std::printf("* login failed (reason %u): %s\n", reason, message.c_str());
    std::lock_guard lock(progress.mutex);
    progress.login_done = true;
    progress.changed.notify_all();
  };
  client.on_message = [&](std::string_view message) {
    std::printf("%.*s\n", static_cast<int>(message.size()), message.data());
    std::lock_guard lock(progress.mutex);
    ++progress.replies;
    progress.changed.notify_all();
  };
  client.on_disconnected = [&](const starhold::client::DisconnectInfo& info) {
    std::printf("* disconnected (reason %u): %s%s\n", info.reason, info.message.c_str(),
                info.reconnecting ? " - reconnecting" : "");
    if (info.reconnecting) return;  // the client is resuming the session by itself
    std::lock_guard lock(progress.mutex);
    progress.login_done = progress.ended = true;
    progress.changed.notify_all();
  };
  client.on_reconnected = [] { std::printf("* reconnected\n"); };

  // Log in and wait for the answer.
  client.login(settings.name, settings.password);
  {
    std::unique_lock lock(progress.mutex);
    progress.changed.wait(lock, [&] { return progress.login_done; });
    if (!progress.logged_in) return 1;
  }

  // Send each line of input. A session that ends meanwhile stops the loop at
  // the next line.
  int sent = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    {
      std::lock_guard lock(progress.mutex);
      if (progress.ended) break;
    }
    try {
      client.send(line);
      ++sent;
    } catch (const std::length_error& e) {  // over the server's maximum frame
      std::printf("* not sent: %s\n", e.what());
    }
  }

  // End of input: give the replies a moment to arrive, then log out and wait
  // for the server to confirm (on_disconnected with reason logged_out).
  std::unique_lock lock(progress.mutex);
  progress.changed.wait_for(lock, std::chrono::seconds(5),
                            [&] { return progress.ended || progress.replies >= sent; });
  if (!progress.ended) {
    client.logout();
    progress.changed.wait_for(lock, std::chrono::seconds(5), [&] { return progress.ended; });
  }
  return 0;
}
