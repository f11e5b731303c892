#include "net/load.hpp"

#include <algorithm>

namespace netbench {

LoadThread::LoadThread() : io_(1), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

LoadThread::~LoadThread() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

void LoadThread::finish() {
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

template <class Stream>
LoginWave<Stream> log_in_all(LoadThread& t, std::size_t n, const std::string& prefix,
                             typename Link<Stream>::Options base, std::size_t concurrent,
                             Clock::time_point deadline, MakeLink<Stream> make_link) {
  struct State {
    LoginWave<Stream> wave;
    std::size_t next = 0, ended = 0;
    std::promise<void> done;
    std::function<void()> open_next;
  };
  auto st = std::make_shared<State>();
  const auto t0 = Clock::now();
  st->open_next = [&t, st, n, prefix, base, make_link] {
    if (st->next >= n) return;
    auto o = base;
    o.name = prefix + std::to_string(st->next++);
    auto link = make_link(t.io(), o);
    st->wave.links.push_back(link);
    Link<Stream>* raw = link.get();
    link->on_login = [st, n, raw](bool ok) {
      if (ok) {
        ++st->wave.ok;
      } else {
        ++st->wave.failed;
        if (st->wave.first_failure.empty()) st->wave.first_failure = raw->why();
      }
      if (++st->ended == n) {
        st->done.set_value();
      } else {
        st->open_next();
      }
    };
    link->start();
  };
  auto finished = st->done.get_future();
  t.call([&] {
    for (std::size_t i = 0; i < std::min(n, concurrent); ++i)
      st->open_next();
    return 0;
  });
  if (n > 0) finished.wait_until(deadline);
  // Links still logging in now count as failed: closing them ends their login.
  return t.call([&] {
    st->next = n;  // open no more
    for (auto& l : st->wave.links) {
      if (!l->logged_in()) l->close_because("no login before the deadline");
    }
    st->open_next = nullptr;
    LoginWave<Stream> w = std::move(st->wave);
    w.failed = n - w.ok;
    w.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return w;
  });
}

LinkPtr<tcp::socket> tcp_link(asio::io_context& io, const Link<tcp::socket>::Options& o) {
  return std::make_shared<Link<tcp::socket>>(io, o);
}

LinkPtr<WsSocket> ws_link(asio::io_context& io, const Link<WsSocket>::Options& o) {
  return std::make_shared<Link<WsSocket>>(io, o);
}

template <class Stream>
void close_all(LoadThread& t, std::vector<LinkPtr<Stream>>& links) {
  t.call([&] {
    for (auto& l : links)
      l->close();
    return 0;
  });
  links.clear();
}

template <class Stream>
std::size_t count_closed(LoadThread& t, const std::vector<LinkPtr<Stream>>& links,
                         std::string& first_why) {
  return t.call([&] {
    std::size_t n = 0;
    for (const auto& l : links) {
      if (l->logged_in() && l->closed()) {
        if (first_why.empty()) first_why = l->why();
        ++n;
      }
    }
    return n;
  });
}

rlim_t raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

template LoginWave<tcp::socket> log_in_all<tcp::socket>(LoadThread&, std::size_t,
                                                        const std::string&,
                                                        Link<tcp::socket>::Options, std::size_t,
                                                        Clock::time_point, MakeLink<tcp::socket>);
template LoginWave<TlsSocket> log_in_all<TlsSocket>(LoadThread&, std::size_t, const std::string&,
                                                    Link<TlsSocket>::Options, std::size_t,
                                                    Clock::time_point, MakeLink<TlsSocket>);
template LoginWave<WsSocket> log_in_all<WsSocket>(LoadThread&, std::size_t, const std::string&,
                                                  Link<WsSocket>::Options, std::size_t,
                                                  Clock::time_point, MakeLink<WsSocket>);
template void close_all<tcp::socket>(LoadThread&, std::vector<LinkPtr<tcp::socket>>&);
template void close_all<TlsSocket>(LoadThread&, std::vector<LinkPtr<TlsSocket>>&);
template void close_all<WsSocket>(LoadThread&, std::vector<LinkPtr<WsSocket>>&);
template std::size_t count_closed<tcp::socket>(LoadThread&,
                                               const std::vector<LinkPtr<tcp::socket>>&,
                                               std::string&);
template std::size_t count_closed<TlsSocket>(LoadThread&, const std::vector<LinkPtr<TlsSocket>>&,
                                             std::string&);
template std::size_t count_closed<WsSocket>(LoadThread&, const std::vector<LinkPtr<WsSocket>>&,
                                            std::string&);

}  // namespace netbench
