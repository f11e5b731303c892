// Sessions: logged-in clients, as the game sees them.
//
// The game gives the Server an AppListener. When a client logs in, its
// logged_in runs as a task and returns the session's SessionListener: a
// managed object that then receives each of the client's messages, one task
// per message, in the order the client sent them, and finally the
// disconnect. A Session is a handle (an id) that tasks can store and use;
// what a task sends on it leaves the server only if, and after, the task
// commits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "starhold/data.hpp"
#include "starhold/errors.hpp"
#include "starhold/task.hpp"

namespace starhold {

class Session {
 public:
  Session() = default;
  explicit Session(ObjectId id) noexcept : id_(id) {}

  ObjectId id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return static_cast<bool>(id_); }
  friend bool operator==(Session, Session) = default;
  friend auto operator<=>(Session, Session) = default;

  // Queues message for the client, sent after this task commits, in commit
  // order. Dropped if the session has ended by then. Throws UsageError if the
  // message exceeds the server's maximum message size.
  void send(Transaction& tx, std::string_view message) const;
  // The identity the client logged in as. Throws ObjectNotFound once the
  // session has ended.
  std::string name(Transaction& tx) const;
  // True while the session exists and a client connection is attached (false
  // while it waits for a reconnect). The connection part can change at any
  // moment; it is not part of the transaction.
  bool connected(Transaction& tx) const;
  // Ends the session after this task commits: the client is told (kicked)
  // and disconnected, and the listener's disconnected(graceful = true) runs.
  void disconnect(Transaction& tx) const;

 private:
  ObjectId id_;
};

template <>
struct FieldCodec<Session> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, Session s) { wire::put_varint(out, s.id().value); }
  static void decode(wire::Cursor& in, Session& s) { s = Session(ObjectId{in.varint()}); }
};

// Base of the game's per-session listeners (derive with Managed<Self, SessionListener>).
class SessionListener : public ManagedObject {
 public:
  // Runs as a task for each message from the client, in the order sent; the
  // next message's task starts after this one committed. An exception aborts
  // this message's task only (logged and counted); the next message follows.
  virtual void received(Transaction& tx, Session session, std::string_view message) = 0;
  // Runs as a task once when the session ends. graceful: the client logged
  // out or the game disconnected it; otherwise the connection was lost and
  // not resumed in time, another login replaced it, or the server restarted.
  virtual void disconnected(Transaction& tx, Session session, bool graceful) = 0;
};

// What logged_in decides.
class LoginResult {
 public:
  enum class Kind { accept, refuse, redirect };
  static LoginResult accept(Ref<SessionListener> listener) {
    LoginResult r;
    r.kind_ = Kind::accept;
    r.listener_ = listener;
    return r;
  }
  // The client gets LOGIN_FAILED (refused) with reason, cut to its first
  // 1,000 bytes (less a partial UTF-8 character at the end).
  static LoginResult refuse(std::string reason) {
    LoginResult r;
    r.kind_ = Kind::refuse;
    r.text_ = std::move(reason);
    return r;
  }
  // The client is sent to host:port to log in there. Throws UsageError
  // unless host is 1 to 253 bytes (a DNS name's limit).
  static LoginResult redirect(std::string host, std::uint16_t port) {
    if (host.empty() || host.size() > kMaxRedirectHost) {
      throw UsageError("LoginResult::redirect: a host of " + std::to_string(host.size()) +
                       " bytes; it must be 1 to 253 bytes");
    }
    LoginResult r;
    r.kind_ = Kind::redirect;
    r.text_ = std::move(host);
    r.port_ = port;
    return r;
  }

  Kind kind() const noexcept { return kind_; }
  Ref<SessionListener> listener() const noexcept { return listener_; }
  const std::string& reason() const noexcept { return text_; }
  const std::string& host() const noexcept { return text_; }
  std::uint16_t port() const noexcept { return port_; }

 private:
  static constexpr std::size_t kMaxRedirectHost = 253;
  Kind kind_ = Kind::refuse;
  Ref<SessionListener> listener_;
  std::string text_;
  std::uint16_t port_ = 0;
};

// The game's hooks for the world and its logins. Not a managed object: it is
// the game's code, and keeps no state of its own (state goes in the store).
class AppListener {
 public:
  virtual ~AppListener() = default;
  // Runs once as a task, the first time the world starts; its commit marks
  // the world initialized. Create the world's root objects here.
  virtual void initialize(Transaction& tx) { (void)tx; }
  // Runs as a task when a client logs in; the session exists within it (its
  // messages sent here arrive right after the login reply). Return accept
  // with the session's listener, refuse, or redirect.
  virtual LoginResult logged_in(Transaction& tx, Session session) = 0;
};

// Makes every resume token issued so far for identity invalid, from this
// task's commit on: a RESUME with one gets LOGIN_FAILED (invalid_token).
// Live sessions go on. Call it when an identity's credentials change or it
// is banned: a RESUME does not ask the Authenticator.
void revoke_resume_tokens(Transaction& tx, std::string_view identity);

// A login attempt's credentials.
struct Credentials {
  std::string name;
  std::string password;
  std::string address;  // the client's network address
};

struct AuthResult {
  // Why a login was not accepted.
  enum class Failure {
    rejected,     // the credentials were checked and are wrong: a failed attempt
    unavailable,  // they could not be checked (a store or record problem): internal_error
    busy,         // not checked now; the client may retry shortly: server_busy
  };
  bool ok = false;
  std::string identity;  // the session's name when ok
  std::string reason;    // why not, when not ok (sent to the client, cut to 1,000 bytes)
  Failure failure = Failure::rejected;
  static AuthResult accept(std::string identity) { return {true, std::move(identity), {}}; }
  static AuthResult reject(std::string reason) { return {false, {}, std::move(reason)}; }
  static AuthResult unavailable(std::string reason) {
    return {false, {}, std::move(reason), Failure::unavailable};
  }
  static AuthResult busy(std::string reason) {
    return {false, {}, std::move(reason), Failure::busy};
  }
};

// Decides who may log in. The default keeps accounts in the store with
// salted scrypt hashes. authenticate may complete on any thread, exactly
// once, and must not block its caller (a network thread) for long. The
// server limits guessing before it calls authenticate (docs/protocol.md,
// Login limits); only `rejected` results count as failed attempts.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual void authenticate(const Credentials& credentials,
                            std::function<void(AuthResult)> done) = 0;
  // Called once by Server::stop, after the network threads have stopped: by
  // its return every done received must have been called or destroyed (done
  // holds the client's connection and refers to the server). Results that
  // come in later are dropped. Called on the thread that stops the server.
  virtual void stop() {}
};

}  // namespace starhold
