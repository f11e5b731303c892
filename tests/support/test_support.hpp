// Shared helpers for tests: temporary store directories, quiet servers whose
// log lines can be inspected, and waiting for a condition with a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "starhold/starhold.hpp"

namespace test {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const noexcept { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Collects log lines; thread-safe.
class LogCapture {
 public:
  starhold::LogSink sink();
  std::vector<std::string> lines() const;
  // Number of lines containing every one of the given fragments.
  std::size_t count(std::initializer_list<std::string_view> fragments) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// Options for a test server storing in dir, logging into capture.
starhold::ServerOptions options_for(const std::string& dir, LogCapture& capture, int workers = 4);

// Polls pred every millisecond until it holds or timeout passes; returns pred().
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Runs body as a task and waits for its durable commit; rethrows its failure.
void run(starhold::Server& server, const starhold::TaskBody& body);

}  // namespace test

namespace test {

// A child process with its stdout on a pipe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  // As above, with environment entries ("NAME=value") set or replaced.
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& environment);
  ~Child();  // kills and reaps it if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The next line of the child's stdout, or nullopt at end of output or after timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  void kill_hard();  // SIGKILL
  int wait();        // exit status (128 + signal if killed)

 private:
  int pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = 0;
};

// Path of the test helper program (see support/test_helper.cpp).
std::string helper_path();

}  // namespace test
