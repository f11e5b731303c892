// Channels: named one-to-many messaging among sessions.
//
// Creating, joining, leaving and sending are transactional: they take
// effect when the task commits, in commit order, and not at all if it aborts.
// Every message on a channel passes through the server; one a client sends
// on a channel goes to the channel's ChannelListener, which may forward it,
// change it or drop it. A channel message is encoded once and shared by all
// members, and reaches them in the channel's order.
//
// Membership is a property of live sessions: joins and leaves of different
// sessions never conflict with one another, and a session leaves all its
// channels when it ends. Channels themselves persist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "starhold/session.hpp"

namespace starhold {

// Base of the game's channel listeners (derive with Managed<Self, ChannelListener>).
class ChannelListener;

struct ChannelOptions {
  // With no listener: forward client messages to every member (true) or drop
  // them (false). With a listener, the listener decides.
  bool clients_may_send = false;
};

class Channel {
 public:
  Channel() = default;
  explicit Channel(ObjectId id) noexcept : id_(id) {}

  // Creates a channel named name. Throws UsageError if the name is taken or
  // longer than 255 bytes.
  static Channel create(Transaction& tx, std::string_view name, Ref<ChannelListener> listener = {},
                        ChannelOptions options = {});
  // The channel named name, or an empty Channel.
  static Channel find(Transaction& tx, std::string_view name);

  ObjectId id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return static_cast<bool>(id_); }
  friend bool operator==(Channel, Channel) = default;

  // Adds session to the channel when this task commits; the client is told
  // (CHANNEL_JOINED) and receives the channel's messages from then on.
  // Joining twice is harmless.
  void join(Transaction& tx, Session session) const;
  // Removes session when this task commits; the client is told (CHANNEL_LEFT).
  void leave(Transaction& tx, Session session) const;
  // Sends message to every member when this task commits. Throws UsageError
  // if it exceeds the server's maximum message size.
  void send(Transaction& tx, std::string_view message) const;
  std::string name(Transaction& tx) const;
  // Removes the channel: members are told they left; the name becomes free.
  void destroy(Transaction& tx) const;

 private:
  ObjectId id_;
};

template <>
struct FieldCodec<Channel> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, Channel c) { wire::put_varint(out, c.id().value); }
  static void decode(wire::Cursor& in, Channel& c) { c = Channel(ObjectId{in.varint()}); }
};

class ChannelListener : public ManagedObject {
 public:
  // Runs as a task (in the sender's message order) for each message a
  // client sends on the channel. Forward it with channel.send, change it, or
  // drop it by doing nothing.
  virtual void received(Transaction& tx, Channel channel, Session sender,
                        std::string_view message) = 0;
};

}  // namespace starhold
