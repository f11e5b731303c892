#include "channel/channel_service.hpp"

#include "session/session_service.hpp"
#include "session/session_state.hpp"

namespace starhold::channel {
using net::Op;

void ChannelService::joined(std::uint64_t channel, const std::string& name, std::uint64_t session) {
  auto state = sessions_.find(session);
  if (!state) return;  // the session ended before this commit
  {
    std::lock_guard lock(mu_);
    {
      // A session marked ended has been, or is about to be, dropped from
      // every channel by session_ended, which waits for mu_.
      std::lock_guard slock(state->mu);
      if (state->ended) return;
    }
    if (!joined_[session].insert(channel).second) return;
    Members& m = channels_[channel];
    m.index[session] = m.list.size();
    m.list.push_back(state);
  }
  sessions_.deliver(*state, net::FrameWriter(Op::channel_joined).u64(channel).str(name).share());
}

bool ChannelService::remove_member(std::uint64_t channel, std::uint64_t session) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return false;
  Members& m = it->second;
  auto at_it = m.index.find(session);
  if (at_it == m.index.end()) return false;
  const std::size_t at = at_it->second;
  m.index.erase(at_it);
  if (at + 1 != m.list.size()) {
    m.list[at] = std::move(m.list.back());
    m.index[m.list[at]->id] = at;
  }
  m.list.pop_back();
  if (m.list.empty()) channels_.erase(it);
  return true;
}

void ChannelService::left(std::uint64_t channel, std::uint64_t session) {
  auto state = sessions_.find(session);
  {
    std::lock_guard lock(mu_);
    if (!remove_member(channel, session)) return;
    auto j = joined_.find(session);
    j->second.erase(channel);
    if (j->second.empty()) joined_.erase(j);
  }
  if (state) sessions_.deliver(*state, net::FrameWriter(Op::channel_left).u64(channel).share());
}

void ChannelService::sent(std::uint64_t channel, const net::FramePtr& f) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  for (const auto& member : it->second.list)
    sessions_.deliver(*member, f);
}

void ChannelService::destroyed(std::uint64_t channel) {
  Members m;
  {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    m = std::move(it->second);
    channels_.erase(it);
    for (const auto& state : m.list) {
      auto j = joined_.find(state->id);
      j->second.erase(channel);
      if (j->second.empty()) joined_.erase(j);
    }
  }
  auto f = net::FrameWriter(Op::channel_left).u64(channel).share();
  for (const auto& state : m.list)
    sessions_.deliver(*state, f);
}

void ChannelService::session_ended(std::uint64_t session) {
  std::lock_guard lock(mu_);
  auto j = joined_.find(session);
  if (j == joined_.end()) return;
  for (std::uint64_t c : j->second)
    remove_member(c, session);
  joined_.erase(j);
}

bool ChannelService::member(std::uint64_t channel, std::uint64_t session) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  return it != channels_.end() && it->second.index.count(session) != 0;
}

std::size_t ChannelService::member_count(std::uint64_t channel) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.list.size();
}

void ChannelService::client_message(Transaction& tx, Channel channel, Session sender,
                                    std::string_view message) {
  ChannelRecord* rec = nullptr;
  try {
    rec = &tx.get(Ref<ChannelRecord>(channel.id()));
  } catch (const ObjectNotFound&) {
    log_.debug("session {} sent on channel {}, which does not exist; dropped", sender.id().value,
               channel.id().value);
    return;
  }
  if (!member(channel.id().value, sender.id().value)) {
    log_.debug("session {} sent on channel '{}' without being a member; dropped", sender.id().value,
               rec->name);
    return;
  }
  if (rec->listener) {
    tx.get(rec->listener).received(tx, channel, sender, message);
  } else if (rec->clients_may_send) {
    channel.send(tx, message);
  }
}

}  // namespace starhold::channel
