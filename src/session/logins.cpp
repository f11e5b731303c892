// Logins: authentication (behind the limits on guessing, see
// login_throttle.hpp), the login task and the one-session-per-identity
// policy. Reconnects are in reconnects.cpp, resumes in resumes.cpp.
#include <optional>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "session/connection.hpp"
#include "session/records.hpp"
#include "session/session_service.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

// What a login task decided; read by its commit hook.
struct SessionService::LoginDecision {
  std::string identity;
  std::string token;
  std::uint64_t session = 0;
  std::uint64_t replaced = 0;  // an older session of the identity, ended by this login
  enum class Kind { accept, refuse, redirect, already, revoked } kind = Kind::refuse;
  std::optional<std::uint64_t> resuming;  // RESUME: the generation its token carries
  std::uint64_t resume_generation = 0;    // the identity's, for the new resume token
  Ref<SessionListener> listener;
  std::string text;  // refusal reason, or redirect host
  std::uint16_t port = 0;
};

// ---- Login -------------------------------------------------------------------

bool SessionService::login_locked(const std::string& address) {
  return throttle_.address_locked(address);
}

void SessionService::authenticate(std::shared_ptr<Connection> conn, Credentials credentials) {
  const std::string name = credentials.name;
  LoginThrottle::Ticket ticket;
  const auto verdict = throttle_.begin(conn->address(), name, ticket);
  if (verdict != LoginThrottle::Verdict::allowed) {
    counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
    const char* why = "";
    switch (verdict) {
      case LoginThrottle::Verdict::address_locked:
        why = "too many failed logins from this address; try again later";
        break;
      case LoginThrottle::Verdict::address_busy:
        why = "too many logins from this address are being checked; try again in a moment";
        break;
      default:
        why = "too many failed logins for this account; try again later";
        break;
    }
    log_.info("refused the login of '{}' from {} before checking it: {}", name, conn->address(),
              why);
    conn->login_failed(Reason::too_many_attempts, why,
                       verdict != LoginThrottle::Verdict::address_busy);
    return;
  }
  auth_->authenticate(credentials, [this, conn, name, ticket](AuthResult r) {
    using Outcome = LoginThrottle::Outcome;
    const bool checked = r.ok || r.failure == AuthResult::Failure::rejected;
    const bool locked = throttle_.finish(ticket, r.ok      ? Outcome::succeeded
                                                 : checked ? Outcome::failed
                                                           : Outcome::not_checked);
    if (!running_) return;
    if (!r.ok) {
      counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
      log_.info("login of '{}' from {} failed: {}", name, conn->address(), r.reason);
      if (!checked) {
        const bool busy = r.failure == AuthResult::Failure::busy;
        conn->login_failed(busy ? Reason::server_busy : Reason::internal_error, r.reason, false);
        return;
      }
      conn->login_failed(locked ? Reason::too_many_attempts : Reason::bad_credentials,
                         locked ? "too many failed logins; try again later" : r.reason, locked);
      return;
    }
    try {
      begin_login(conn, r.identity);
    } catch (const std::exception& e) {
      log_.error("login of '{}' could not start: {}", r.identity, e.what());
      conn->login_failed(Reason::internal_error, "the login could not be completed", false);
    }
  });
}

void SessionService::begin_login(const std::shared_ptr<Connection>& conn,
                                 const std::string& identity,
                                 std::optional<std::uint64_t> resuming) {
  auto d = std::make_shared<LoginDecision>();
  d->identity = identity;
  d->resuming = resuming;
  d->token = new_reconnect_token();
  tasks_.submit(
      "starhold.login",
      [this, conn, d](Transaction& tx) {
        d->session = d->replaced = 0;
        d->kind = LoginDecision::Kind::refuse;
        d->listener = {};
        if (!resume_checks(tx, d->identity, d->resuming, d->resume_generation)) {
          d->kind = LoginDecision::Kind::revoked;
          tx.on_commit([this, conn, d] { complete_login(conn, *d); });
          return;
        }
        const std::string bound = identity_name(d->identity);
        SessionRecord* old = tx.find<SessionRecord>(bound);
        if (old != nullptr &&
            options_.duplicate_login == ServerOptions::DuplicateLogin::refuse_new) {
          d->kind = LoginDecision::Kind::already;
          tx.on_commit([this, conn, d] { complete_login(conn, *d); });
          return;
        }
        auto& rec = tx.create<SessionRecord>();
        rec.identity = d->identity;
        rec.login_ms = tasks_.wall_ms();
        d->session = rec.id().value;
        // Registered before logged_in runs, so the reply precedes what the game sends.
        tx.on_commit([this, conn, d] { complete_login(conn, *d); });

        LoginResult r = app_->logged_in(tx, Session(rec.id()));
        if (r.kind() == LoginResult::Kind::accept && !r.listener()) {
          r = LoginResult::refuse("the game gave the session no listener");
        }
        switch (r.kind()) {
          case LoginResult::Kind::accept:
            d->kind = LoginDecision::Kind::accept;
            break;
          case LoginResult::Kind::refuse:
            d->kind = LoginDecision::Kind::refuse;
            d->text = r.reason();
            break;
          case LoginResult::Kind::redirect:
            d->kind = LoginDecision::Kind::redirect;
            d->text = r.host();
            d->port = r.port();
            break;
        }
        if (d->kind != LoginDecision::Kind::accept) {
          tx.remove(rec);
          return;
        }
        rec.listener = r.listener();
        d->listener = r.listener();
        if (old != nullptr) {
          d->replaced = old->id().value;
          if (old->listener) tx.get(old->listener).disconnected(tx, Session(old->id()), false);
          tx.remove(*old);
        }
        tx.bind(bound, rec);
      },
      [this, conn, d](std::exception_ptr e) {
        if (!e) return;
        counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
        conn->login_failed(Reason::internal_error, "the login could not be completed", false);
      });
}

void SessionService::complete_login(const std::shared_ptr<Connection>& conn,
                                    const LoginDecision& d) {
  if (d.replaced != 0) {
    if (auto old = find(d.replaced)) {
      {
        std::lock_guard lock(old->mu);
        old->ending = true;  // its listener was told in the login task
      }
      finish_end(old, Reason::duplicate_login, true);
    }
  }
  switch (d.kind) {
    case LoginDecision::Kind::accept: {
      auto state = std::make_shared<SessionState>(d.session, d.identity, d.listener, d.token);
      {
        std::lock_guard lock(sessions_mu_);
        sessions_[d.session] = state;
        by_token_[d.token] = d.session;
      }
      counters_.logins_ok.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard lock(state->mu);
        state->conn = conn;
      }
      boost::asio::post(conn->executor(), [conn, state] { conn->attach(state); });
      conn->send(login_ok_frame(d.session, d.token, d.identity, d.resume_generation));
      log_.info("'{}' logged in from {} ({}), session {}", d.identity, conn->address(),
                net::transport_name(conn->kind()), d.session);
      return;
    }
    case LoginDecision::Kind::refuse:
      counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
      log_.info("the game refused the login of '{}': {}", d.identity, d.text);
      conn->login_failed(Reason::refused, d.text, false);
      return;
    case LoginDecision::Kind::already:
      counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
      conn->login_failed(Reason::already_logged_in,
                         fmt::format("'{}' is already logged in", d.identity), false);
      return;
    case LoginDecision::Kind::revoked:
      counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
      log_.info("a resume of '{}' from {} was refused: its token was revoked", d.identity,
                conn->address());
      conn->login_failed(Reason::invalid_token, "the resume token was revoked", false);
      return;
    case LoginDecision::Kind::redirect:
      log_.info("redirecting '{}' to {}:{}", d.identity, d.text, d.port);
      conn->send_and_close(net::FrameWriter(Op::redirect).str(d.text).u16(d.port).share(),
                           Reason::logged_out);
      return;
  }
}

}  // namespace starhold::session
