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

#include "common/command_line.hpp"
#include "starhold/client.hpp"

namespace {

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
  const examples::ClientSettings settings = examples::parse_client(argc, argv);
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
