#include "support/test_support.hpp"

#include <fcntl.h>
#include <stdlib.h>

#include <stdexcept>

namespace test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "starhold-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

starhold::LogSink LogCapture::sink() {
  return [this](starhold::LogLevel, std::string_view line) {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
  };
}

std::vector<std::string> LogCapture::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::size_t LogCapture::count(std::initializer_list<std::string_view> fragments) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& line : lines_) {
    bool all = true;
    for (auto f : fragments)
      all = all && line.find(f) != std::string::npos;
    n += all ? 1 : 0;
  }
  return n;
}

starhold::ServerOptions options_for(const std::string& dir, LogCapture& capture, int workers) {
  starhold::ServerOptions o;
  o.store_path = dir;
  o.workers = workers;
  o.log = capture.sink();
  o.cache_bytes = std::size_t{16} << 20;
  return o;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

void run(starhold::Server& server, const starhold::TaskBody& body) {
  server.submit("test", body).get();
}

}  // namespace test

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace test {

Child::Child(const std::vector<std::string>& argv) : Child(argv, {}) {}

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& environment) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    const auto key = eq == std::string_view::npos ? entry : entry.substr(0, eq + 1);
    bool replaced = false;
    for (const auto& mine : environment)
      replaced = replaced || mine.rfind(key, 0) == 0;
    if (!replaced) env_text.emplace_back(entry);
  }
  env_text.insert(env_text.end(), environment.begin(), environment.end());
  std::vector<char*> env;
  for (auto& e : env_text)
    env.push_back(e.data());
  env.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_ = fds[0];
  if (rc != 0) {
    ::close(out_);
    throw std::runtime_error("posix_spawn of " + argv[0] + " failed");
  }
}

Child::~Child() {
  if (!reaped_) {
    kill_hard();
    wait();
  }
  if (out_ >= 0) ::close(out_);
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

void Child::kill_hard() {
  if (!reaped_) ::kill(pid_, SIGKILL);
}

int Child::wait() {
  if (!reaped_) {
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string helper_path() {
  return STARHOLD_TEST_HELPER;
}

}  // namespace test
