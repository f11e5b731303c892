// The channel service: who is in which channel, and fan-out.
//
// Membership lives in memory with the sessions (which do not outlive the
// process); channels themselves are ChannelRecords in the store. Joins,
// leaves, sends and destroys are applied by commit hooks, so on the
// committer thread and in commit order: a member receives exactly the
// messages committed after its join and before its leave, in channel order.
// A message is encoded once; every member's connection queues the same buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "net/protocol.hpp"
#include "starhold/channel.hpp"

namespace starhold::session {
class SessionService;
struct SessionState;
}  // namespace starhold::session

namespace starhold::channel {

// A channel in the store. Bound to channel_name(name).
struct ChannelRecord final : Managed<ChannelRecord> {
  static constexpr std::string_view type_name = "starhold.Channel";
  std::string name;
  Ref<ChannelListener> listener;
  bool clients_may_send = false;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, listener);
    f(3, clients_may_send);
  }
};

inline std::string channel_name(std::string_view name) {
  return "starhold.channel." + std::string(name);
}

class ChannelService {
 public:
  ChannelService(session::SessionService& sessions, Log& log) : sessions_(sessions), log_(log) {}

  // ---- Commit hooks (committer thread) ----
  void joined(std::uint64_t channel, const std::string& name, std::uint64_t session);
  void left(std::uint64_t channel, std::uint64_t session);
  void sent(std::uint64_t channel, const net::FramePtr& frame);
  void destroyed(std::uint64_t channel);
  // A session ended (after its state is marked ended): drop it from the
  // channels it was in, with no one to tell.
  void session_ended(std::uint64_t session);

  // Whether session is in channel now (any thread; not transactional).
  bool member(std::uint64_t channel, std::uint64_t session);
  std::size_t member_count(std::uint64_t channel);

  // The task for a message a client sent on a channel.
  void client_message(Transaction& tx, Channel channel, Session sender, std::string_view message);

 private:
  struct Members {
    std::vector<std::shared_ptr<session::SessionState>> list;
    std::unordered_map<std::uint64_t, std::size_t> index;  // session -> position in list
  };
  // Removes session from channel's members; false if it was not one.
  bool remove_member(std::uint64_t channel, std::uint64_t session);

  session::SessionService& sessions_;
  Log& log_;
  std::mutex mu_;
  // Guarded by mu_, which is taken before any session's own mutex.
  std::unordered_map<std::uint64_t, Members> channels_;
  std::unordered_map<std::uint64_t, std::set<std::uint64_t>> joined_;  // session -> channels
};

}  // namespace starhold::channel
