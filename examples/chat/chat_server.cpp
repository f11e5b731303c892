// chat_server: chat rooms on channels, with a moderator.
//
//   chat_server [--port N] [--tcp-port N] [--ws-port N] [--data DIR]
//
// A client sends "/join ROOM" or "/leave ROOM" as session messages; the
// server puts its session in (or takes it out of) the room's channel. Every
// message a client sends on a room goes first to the room's moderator, a
// ChannelListener: it drops messages with a banned word (telling the
// sender why) and forwards the rest, prefixed with the sender's name, to
// everyone in the room. Pair it with examples/chat/chat_client.
#include <cstdio>
#include <string>

#include "common/command_line.hpp"
#include "starhold/starhold.hpp"

namespace {

// The moderator of every room: one managed object, shared by all rooms. It
// only reads its fields, so rooms never conflict over it.
struct Moderator final : starhold::Managed<Moderator, starhold::ChannelListener> {
  static constexpr std::string_view type_name = "chat.Moderator";
  std::vector<std::string> banned_words;
  template <class F>
  void fields(F& f) {
    f(1, banned_words);
  }

  void received(starhold::Transaction& tx, starhold::Channel room, starhold::Session sender,
                std::string_view message) override {
    for (const auto& word : banned_words) {
      if (message.find(word) != std::string_view::npos) {
        sender.send(tx, "* your message was not sent: it contains a banned word");
        return;  // dropped: nobody else sees it
      }
    }
    std::string line = "[";
    line.append(sender.name(tx)).append("] ").append(message);
    room.send(tx, line);
  }
};

// One per session: it interprets the session's own messages (commands).
struct Chatter final : starhold::Managed<Chatter, starhold::SessionListener> {
  static constexpr std::string_view type_name = "chat.Chatter";
  template <class F>
  void fields(F&) {}

  void received(starhold::Transaction& tx, starhold::Session session,
                std::string_view message) override {
    if (message.rfind("/join ", 0) == 0) {
      room(tx, message.substr(6)).join(tx, session);
    } else if (message.rfind("/leave ", 0) == 0) {
      if (auto r = starhold::Channel::find(tx, message.substr(7))) r.leave(tx, session);
    } else {
      session.send(tx, "* commands: /join ROOM, /leave ROOM");
    }
  }

  void disconnected(starhold::Transaction&, starhold::Session, bool) override {}

  // The room's channel, created (with the moderator) the first time someone joins.
  static starhold::Channel room(starhold::Transaction& tx, std::string_view name) {
    if (auto existing = starhold::Channel::find(tx, name)) return existing;
    auto& moderator = tx.lookup<Moderator>("chat.moderator");
    return starhold::Channel::create(tx, name, moderator);
  }
};

struct ChatWorld final : starhold::AppListener {
  // Runs once, the first time the world starts.
  void initialize(starhold::Transaction& tx) override {
    auto& moderator = tx.create<Moderator>();
    moderator.banned_words = {"spam", "cheat"};
    tx.bind("chat.moderator", moderator);
  }

  starhold::LoginResult logged_in(starhold::Transaction& tx, starhold::Session session) override {
    session.send(tx, "* welcome, " + session.name(tx) + "; /join a room to chat");
    return starhold::LoginResult::accept(tx.create<Chatter>());
  }
};

}  // namespace

int main(int argc, char** argv) {
  // TLS on --port (7710) with a development certificate; see common/command_line.hpp.
  starhold::ServerOptions options = examples::server_options(argc, argv, 7710, "chat-data");
  starhold::Server server(options);
  server.set_app_listener(std::make_shared<ChatWorld>());
  server.start();
  std::printf("chat server: TLS on port %u; clients trust %s\n",
              server.port(starhold::Server::Listener::tls), options.tls_certificate.c_str());
  std::fflush(stdout);
  examples::run_until_interrupted(server);
}
