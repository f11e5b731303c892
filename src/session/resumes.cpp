// Resume tokens at work: LOGIN_OK hands one out; RESUME logs in with it, as
// LOGIN does with a password, through the same login task (which checks the
// identity's generation, so a revoked token fails in the transaction that
// would create the session). The key is read or made at start.
#include <fmt/format.h>

#include "session/connection.hpp"
#include "session/resume_tokens.hpp"
#include "session/session_service.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
using net::Op;
using net::Reason;

void SessionService::load_resume_key() {
  if (options_.resume_token_lifetime.count() <= 0) return;
  tasks_.submit_and_wait("starhold.resume-key", [this](Transaction& tx) {
    resume_key_ = ResumeTokens::load_or_create_key(tx);
  });
}

bool SessionService::resume_checks(Transaction& tx, const std::string& identity,
                                   std::optional<std::uint64_t> resuming,
                                   std::uint64_t& generation) {
  generation = 0;
  if (resume_key_.empty()) return !resuming;
  generation = ResumeTokens::generation(tx, identity);
  return !resuming || *resuming == generation;
}

net::FramePtr SessionService::login_ok_frame(std::uint64_t session, const std::string& token,
                                             const std::string& identity,
                                             std::uint64_t generation) const {
  std::string resume;
  if (!resume_key_.empty()) {
    const auto lifetime =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.resume_token_lifetime);
    try {
      resume = ResumeTokens::sign(resume_key_,
                                  {identity, generation, tasks_.wall_ms() + lifetime.count()});
    } catch (const std::exception& e) {
      log_.error("no resume token for '{}': {}", identity, e.what());
    }
  }
  return net::FrameWriter(Op::login_ok)
      .u64(session)
      .blob(token)
      .u32(static_cast<std::uint32_t>(options_.reconnect_grace.count()))
      .u32(static_cast<std::uint32_t>(options_.replay_buffer_bytes))
      .blob(resume)
      .u32(resume.empty() ? 0 : static_cast<std::uint32_t>(options_.resume_token_lifetime.count()))
      .share();
}

void SessionService::resume(std::shared_ptr<Connection> conn, std::string token) {
  if (!reconnect_allowed(*conn)) {
    conn->close(Reason::too_many_attempts,
                "too many reconnect and resume attempts from this address; try again later");
    return;
  }
  std::string why = "this server issues no resume tokens";
  std::optional<ResumeClaims> claims;
  if (!resume_key_.empty()) {
    try {
      claims = ResumeTokens::verify(resume_key_, token, tasks_.wall_ms(), why);
    } catch (const std::exception& e) {
      log_.error("a resume token from {} could not be checked: {}", conn->address(), e.what());
      why = "the resume token could not be checked";
    }
  }
  if (!claims) {
    counters_.logins_failed.fetch_add(1, std::memory_order_relaxed);
    log_.info("resume from {} refused: {}", conn->address(), why);
    conn->login_failed(Reason::invalid_token, why, false);
    return;
  }
  try {
    begin_login(conn, claims->identity, claims->generation);
  } catch (const std::exception& e) {
    log_.error("the resume of '{}' could not start: {}", claims->identity, e.what());
    conn->login_failed(Reason::internal_error, "the login could not be completed", false);
  }
}

}  // namespace starhold::session
