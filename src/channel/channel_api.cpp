// The public Channel handle: transactional operations that take effect at commit.
#include <fmt/format.h>

#include "channel/channel_service.hpp"
#include "core/services.hpp"
#include "session/session_service.hpp"

namespace starhold {
using channel::channel_name;
using channel::ChannelRecord;

namespace {
channel::ChannelService& service(Transaction& tx) {
  return *core::services(tx).channels;
}

ChannelRecord& record(Transaction& tx, ObjectId id) {
  return tx.get(Ref<ChannelRecord>(id));
}
}  // namespace

Channel Channel::create(Transaction& tx, std::string_view name, Ref<ChannelListener> listener,
                        ChannelOptions options) {
  if (name.size() > net::kMaxChannelName) {
    throw UsageError(fmt::format("a channel name of {} bytes; the limit is {}", name.size(),
                                 net::kMaxChannelName));
  }
  const std::string bound = channel_name(name);
  if (tx.find<ChannelRecord>(bound) != nullptr) {
    throw UsageError(fmt::format("a channel named '{}' already exists", name));
  }
  auto& rec = tx.create<ChannelRecord>();
  rec.name = std::string(name);
  rec.listener = listener;
  rec.clients_may_send = options.clients_may_send;
  tx.bind(bound, rec);
  return Channel(rec.id());
}

Channel Channel::find(Transaction& tx, std::string_view name) {
  auto* rec = tx.find<ChannelRecord>(channel_name(name));
  return rec != nullptr ? Channel(rec->id()) : Channel();
}

void Channel::join(Transaction& tx, Session session) const {
  const ChannelRecord& rec = record(tx, id_);
  tx.on_commit([&svc = service(tx), c = id_.value, name = rec.name, s = session.id().value] {
    svc.joined(c, name, s);
  });
}

void Channel::leave(Transaction& tx, Session session) const {
  (void)record(tx, id_);
  tx.on_commit([&svc = service(tx), c = id_.value, s = session.id().value] { svc.left(c, s); });
}

void Channel::send(Transaction& tx, std::string_view message) const {
  const std::uint32_t max = core::services(tx).sessions->max_message_bytes();
  if (message.size() + 9 > max) {
    throw UsageError(fmt::format("a channel message of {} bytes exceeds the maximum of {}",
                                 message.size(), max - 9));
  }
  (void)record(tx, id_);
  // Encoded once, here; every member's connection shares these bytes.
  auto frame = net::FrameWriter(net::Op::channel_message, 8 + message.size())
                   .u64(id_.value)
                   .rest(message)
                   .share();
  tx.on_commit([&svc = service(tx), c = id_.value, frame] { svc.sent(c, frame); });
}

std::string Channel::name(Transaction& tx) const {
  return record(tx, id_).name;
}

void Channel::destroy(Transaction& tx) const {
  ChannelRecord& rec = record(tx, id_);
  tx.unbind(channel_name(rec.name));
  tx.remove(rec);
  tx.on_commit([&svc = service(tx), c = id_.value] { svc.destroyed(c); });
}

}  // namespace starhold
