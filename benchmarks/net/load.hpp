// The network benchmark's load generator: many client links share one
// io_context run by one LoadThread, so the generator stays cheap next to the
// server on the same cores.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "net/link.hpp"

namespace netbench {

using Clock = std::chrono::steady_clock;

template <class Stream>
using LinkPtr = std::shared_ptr<Link<Stream>>;

// ---- The client thread ----------------------------------------------------------------

// An io_context and the one thread that runs it.
class LoadThread {
 public:
  LoadThread();
  // Without finish() (an early exit), stops at once: pending handlers never run.
  ~LoadThread();

  // Lets the thread end once every pending handler has run (close the links
  // first), and joins it. After this no client code runs. Idempotent.
  void finish();
  asio::io_context& io() noexcept { return io_; }

  // Runs f on the thread and returns its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// ---- Logging links in and out ------------------------------------------------------------

// What log_in_all opened and how the logins ended.
template <class Stream>
struct LoginWave {
  std::vector<LinkPtr<Stream>> links;  // every link, logged in or not
  std::size_t ok = 0, failed = 0;
  double seconds = 0;
  std::string first_failure;
};

template <class Stream>
using MakeLink =
    std::function<LinkPtr<Stream>(asio::io_context&, const typename Link<Stream>::Options&)>;

// Opens n links named prefix0..prefix{n-1}, at most `concurrent` logging in
// at once, and waits (at most until deadline) for every login to end; links
// still logging in then are closed and count as failed. make_link(io, options)
// runs on the io thread and makes each link before it starts. Defined for
// tcp::socket, TlsSocket and WsSocket.
template <class Stream>
LoginWave<Stream> log_in_all(LoadThread& t, std::size_t n, const std::string& prefix,
                             typename Link<Stream>::Options base, std::size_t concurrent,
                             Clock::time_point deadline, MakeLink<Stream> make_link);

// A plain TCP link; a MakeLink<tcp::socket>.
LinkPtr<tcp::socket> tcp_link(asio::io_context& io, const Link<tcp::socket>::Options& o);
// A plain WebSocket link; a MakeLink<WsSocket>.
LinkPtr<WsSocket> ws_link(asio::io_context& io, const Link<WsSocket>::Options& o);

// Closes every link on its thread, then empties links.
template <class Stream>
void close_all(LoadThread& t, std::vector<LinkPtr<Stream>>& links);

// How many links logged in and are now closed; the first one's reason goes
// to first_why if that is empty.
template <class Stream>
std::size_t count_closed(LoadThread& t, const std::vector<LinkPtr<Stream>>& links,
                         std::string& first_why);

// ---- Process ------------------------------------------------------------------------------

// Raises the open-file limit to its hard limit; returns the new soft limit.
rlim_t raise_fd_limit();

}  // namespace netbench
