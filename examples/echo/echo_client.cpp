// echo_client: logs in to a Starhold server, sends every line typed on
// standard input as a session message, and prints every message the server
// sends back.
//
//   echo_client --port 7700 --ca server-cert.pem --name ana --password secret
//
// It shows the whole life of a client: options, callbacks, login, sending,
// and a clean logout at the end of the input.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/command_line.hpp"
#include "common/session_progress.hpp"
#include "starhold/client.hpp"

int main(int argc, char** argv) {
  const examples::ClientSettings settings = examples::parse_client(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // print each line at once, even into a pipe

  // Declared before the client, so that they outlive the client's callbacks.
  examples::SessionProgress progress;
  int replies = 0;  // guarded by progress
  // The client runs its own network thread from here on.
  starhold::client::Client client(settings.options);

  // Each callback runs on the client's thread. They only print and record
  // what happened; the main thread waits on `progress`.
  progress.follow(client, [](std::uint64_t session) {
    std::printf("* logged in, session %llu\n", static_cast<unsigned long long>(session));
  });
  client.on_message = [&](std::string_view message) {
    std::printf("%.*s\n", static_cast<int>(message.size()), message.data());
    progress.update([&] { ++replies; });
  };

  // Log in and wait for the answer.
  client.login(settings.name, settings.password);
  if (!progress.wait_for_login()) return 1;

  // Send each line of input. A session that ends meanwhile stops the loop at
  // the next line.
  int sent = 0;
  std::string line;
  while (std::getline(std::cin, line) && !progress.ended()) {
    try {
      client.send(line);
      ++sent;
    } catch (const std::length_error& e) {  // over the server's maximum frame
      std::printf("* not sent: %s\n", e.what());
    }
  }

  // End of input: give the replies a moment to arrive, then log out and wait
  // for the server to confirm (on_disconnected with reason logged_out).
  progress.wait([&] { return replies >= sent; }, std::chrono::seconds(5));
  progress.log_out(client);
  return 0;
}
