// chat_client: a line-based chat over a Starhold server's channels.
//
//   chat_client --port 7700 --ca server-cert.pem --name ana --password secret
//
// Type these on standard input:
//   /join ROOM        ask the server to put you in ROOM
//   /leave ROOM       ask the server to take you out of ROOM
//   /say ROOM text    say text in ROOM
//   text              say text in the room you joined last
//   /quit             log out (so does the end of input)
//
// The server decides what joining means: the client sends "/join ROOM" as a
// plain session message, and the server answers by adding the session to the
// room's channel, which arrives here as on_channel_joined with the channel's
// id. From then on, the client talks to the room by that id.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/command_line.hpp"
#include "common/session_progress.hpp"
#include "starhold/client.hpp"

namespace {

// The rooms this session is in, in the order joined. The client's callbacks
// change it on the client's thread while the main thread reads it, so every
// use holds the mutex.
class Rooms {
 public:
  void joined(std::uint64_t channel, const std::string& name) {
    std::lock_guard lock(mutex_);
    rooms_.push_back({channel, name});
  }
  // Returns the room's name ("?" if unknown).
  std::string left(std::uint64_t channel) {
    std::lock_guard lock(mutex_);
    for (auto it = rooms_.begin(); it != rooms_.end(); ++it) {
      if (it->channel != channel) continue;
      std::string name = it->name;
      rooms_.erase(it);
      return name;
    }
    return "?";
  }
  std::string name_of(std::uint64_t channel) {
    std::lock_guard lock(mutex_);
    for (const auto& room : rooms_) {
      if (room.channel == channel) return room.name;
    }
    return "?";
  }
  std::optional<std::uint64_t> channel_of(std::string_view name) {
    std::lock_guard lock(mutex_);
    for (const auto& room : rooms_) {
      if (room.name == name) return room.channel;
    }
    return std::nullopt;
  }
  // The room joined most recently, if any.
  std::optional<std::uint64_t> current() {
    std::lock_guard lock(mutex_);
    if (rooms_.empty()) return std::nullopt;
    return rooms_.back().channel;
  }

 private:
  struct Room {
    std::uint64_t channel;
    std::string name;
  };
  std::mutex mutex_;
  std::vector<Room> rooms_;
};

bool starts_with(std::string_view line, std::string_view prefix) {
  return line.substr(0, prefix.size()) == prefix;
}

// Acts on one input line: a command, or chat for the current room.
void handle_line(const std::string& line, starhold::client::Client& client, Rooms& rooms) {
  if (line.empty()) return;

  if (starts_with(line, "/join ") || starts_with(line, "/leave ")) {
    client.send(line);  // the server interprets these
    return;
  }

  if (starts_with(line, "/say ")) {
    // "/say ROOM text": the room name ends at the next space.
    const std::string_view rest = std::string_view(line).substr(5);
    const auto space = rest.find(' ');
    const std::string_view room = rest.substr(0, space);
    const std::string_view text = space == std::string_view::npos ? "" : rest.substr(space + 1);
    if (auto channel = rooms.channel_of(room)) {
      client.send_channel(*channel, text);
    } else {
      std::printf("* you are not in [%.*s]\n", static_cast<int>(room.size()), room.data());
    }
    return;
  }

  if (starts_with(line, "/")) {
    std::printf("* unknown command; try /join, /leave, /say or /quit\n");
    return;
  }

  if (auto channel = rooms.current()) {
    client.send_channel(*channel, line);
  } else {
    std::printf("* join a room first: /join ROOM\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const examples::ClientSettings settings = examples::parse_client(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // print each line at once, even into a pipe

  // Declared before the client, so that they outlive the client's callbacks.
  Rooms rooms;
  examples::SessionProgress progress;
  starhold::client::Client client(settings.options);

  // Callbacks run on the client's thread, one at a time.
  progress.follow(client, [&](std::uint64_t) {
    std::printf("* logged in as %s; /join a room to chat\n", settings.name.c_str());
  });
  client.on_channel_joined = [&](std::uint64_t channel, const std::string& name) {
    rooms.joined(channel, name);
    std::printf("* joined [%s]\n", name.c_str());
  };
  client.on_channel_left = [&](std::uint64_t channel) {
    std::printf("* left [%s]\n", rooms.left(channel).c_str());
  };
  client.on_channel_message = [&](std::uint64_t channel, std::string_view text) {
    std::printf("[%s] %.*s\n", rooms.name_of(channel).c_str(), static_cast<int>(text.size()),
                text.data());
  };
  client.on_message = [](std::string_view text) {
    std::printf("%.*s\n", static_cast<int>(text.size()), text.data());
  };

  client.login(settings.name, settings.password);
  if (!progress.wait_for_login()) return 1;

  // One command or chat line per input line.
  std::string line;
  while (std::getline(std::cin, line) && !progress.ended()) {
    if (line == "/quit") break;
    try {
      handle_line(line, client, rooms);
    } catch (const std::length_error& e) {  // over the server's maximum frame
      std::printf("* not sent: %s\n", e.what());
    }
  }

  // Log out and wait for the server to confirm.
  progress.log_out(client);
  return 0;
}
