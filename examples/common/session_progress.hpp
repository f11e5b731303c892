// How an example client's main thread follows its session: the client's
// callbacks (on its own thread) record the login and the end here, and the
// main thread waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

#include "starhold/client.hpp"

namespace examples {

class SessionProgress {
 public:
  // Sets client's login, disconnect and reconnect callbacks to print what
  // happens and record it. on_login runs after a successful login.
  void follow(starhold::client::Client& client, std::function<void(std::uint64_t)> on_login = {}) {
    client.on_logged_in = [this, on_login](std::uint64_t session) {
      if (on_login) on_login(session);
      update([&] { login_done_ = logged_in_ = true; });
    };
    client.on_login_failed = [this](std::uint16_t reason, const std::string& message) {
      std::printf("* login failed (reason %u): %s\n", reason, message.c_str());
      update([&] { login_done_ = true; });
    };
    client.on_disconnected = [this](const starhold::client::DisconnectInfo& info) {
      std::printf("* disconnected (reason %u): %s%s\n", info.reason, info.message.c_str(),
                  info.reconnecting ? " - reconnecting" : "");
      if (info.reconnecting) return;  // the client is resuming the session by itself
      update([&] { login_done_ = ended_ = true; });
    };
    client.on_reconnected = [] { std::printf("* reconnected\n"); };
  }

  // Waits for the login's outcome; true if logged in.
  bool wait_for_login() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return login_done_; });
    return logged_in_;
  }

  bool ended() {
    std::lock_guard lock(mutex_);
    return ended_;
  }

  // Runs change under the lock and wakes the waiters.
  void update(const std::function<void()>& change) {
    std::lock_guard lock(mutex_);
    change();
    changed_.notify_all();
  }

  // Waits up to timeout for done (checked under the lock) or the session's end.
  void wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return ended_ || done(); });
  }

  // Logs out, unless the session already ended, and waits for the server's confirmation.
  void log_out(starhold::client::Client& client) {
    if (ended()) return;
    client.logout();
    wait([] { return false; }, std::chrono::seconds(5));
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool login_done_ = false;  // guarded by mutex_
  bool logged_in_ = false;   // guarded by mutex_
  bool ended_ = false;       // guarded by mutex_: the session is over for good
};

}  // namespace examples
