// The public Session handle.
#include "core/services.hpp"
#include "session/records.hpp"
#include "session/resume_tokens.hpp"
#include "session/session_service.hpp"

namespace starhold {

void Session::send(Transaction& tx, std::string_view message) const {
  core::services(tx).sessions->send(tx, *this, message);
}

std::string Session::name(Transaction& tx) const {
  return tx.get(Ref<session::SessionRecord>(id_)).identity;
}

bool Session::connected(Transaction& tx) const {
  try {
    (void)tx.get(Ref<session::SessionRecord>(id_));
  } catch (const ObjectNotFound&) {
    return false;
  }
  return core::services(tx).sessions->attached(id_.value);
}

void Session::disconnect(Transaction& tx) const {
  (void)tx.get(Ref<session::SessionRecord>(id_));
  core::services(tx).sessions->disconnect(tx, *this);
}

void revoke_resume_tokens(Transaction& tx, std::string_view identity) {
  session::ResumeTokens::revoke(tx, identity);
}

}  // namespace starhold
